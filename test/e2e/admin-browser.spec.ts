/**
 * The admin page in a real browser: Playwright (`playwright-core`, no downloaded browsers) drives the system
 * Chromium (`apt-get install -y chromium`) against a real Nest app listening on a free port, on Express and Fastify.
 * Checks: the page renders, its numbers and its hit-ratio chart update after cache traffic, a layer name full of
 * markup is shown as text (no XSS), the guard answers 403 to a browser without the cookie (page and JSON), and no
 * console error, page error or Content-Security-Policy violation happens.
 * Hard part: a missing Chromium fails the suite with the install command — never a silent skip.
 */
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { jest } from '@jest/globals';
import { Injectable, type CanActivate, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CacheStack, LayerCacheModule, MemoryLayer } from '../../lib/index.js';
import { silentLogger } from '../support/decorator-app.js';
import { ADAPTERS, startApp } from '../support/nest-app.js';

const CHROMIUM = process.env.LAYERCACHE_TEST_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const EVIL_LAYER = '<img src=x onerror="window.__xss=1">';

jest.setTimeout(60_000);

/** Lets a request through when it carries the cookie `lc_admin=secret` (what a browser sends by itself). */
@Injectable()
class CookieGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const cookie = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers.cookie ?? '';
    return cookie.split(/;\s*/).includes('lc_admin=secret');
  }
}

let browser: Browser;
beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`The admin page's browser test needs Chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (or set LAYERCACHE_TEST_CHROMIUM)`);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
});

/** A page that records console errors, page errors and CSP violations. */
async function openPage(context: BrowserContext): Promise<{ page: Page; problems: string[] }> {
  const problems: string[] = [];
  // Run by the browser (the test's tsconfig has no DOM types, hence a string).
  await context.addInitScript(
    "document.addEventListener('securitypolicyviolation', (event) => console.error('CSP violation: ' + event.violatedDirective + ' ' + event.blockedURI));",
  );
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`console.${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  return { page, problems };
}

describe.each(ADAPTERS)('admin page in Chromium (%s)', (adapter) => {
  let app: INestApplication;
  let origin: string;
  beforeEach(async () => {
    app = await startApp(
      { imports: [LayerCacheModule.forRoot({ layers: [() => new MemoryLayer({ name: EVIL_LAYER })], logger: silentLogger, admin: { path: '/ops/cache', guard: CookieGuard, interval: '200ms' } })] },
      adapter,
    );
    await app.listen(0, '127.0.0.1');
    origin = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
  });
  afterEach(async () => {
    await app.close();
  });

  it('renders, updates after cache traffic, shows markup as text, with no console error or CSP violation', async () => {
    const context = await browser.newContext();
    await context.addCookies([{ name: 'lc_admin', value: 'secret', url: origin }]);
    const { page, problems } = await openPage(context);
    try {
      const response = await page.goto(`${origin}/ops/cache`);
      expect(response?.status()).toBe(200);
      await page.waitForSelector('#status.ok');
      const card = (name: string) => page.locator(`.card[data-name="${name}"] .value`);
      expect(await card('hits').textContent()).toBe('0');
      expect(await page.textContent('#name')).toBe('default');

      const stack = app.get(CacheStack);
      await stack.get('a', () => 1);
      await stack.get('a', () => 1);
      await stack.get('a', () => 1);
      await stack.get('a', () => 1);
      await page.locator('.card[data-name="hits"] .value', { hasText: /^3$/ }).waitFor();
      expect(await card('misses').textContent()).toBe('1');
      expect(await card('loads').textContent()).toBe('1');
      expect(await card('hit ratio').textContent()).toBe('75.0 %');

      // The time series: a sampled point with reads draws a line in the SVG chart.
      await page.locator('#chart polyline.ratio').first().waitFor({ state: 'attached' });
      expect(Number(await page.getAttribute('#chart', 'data-points'))).toBeGreaterThan(0);

      // The layer's name is markup, shown as text: no element made of it, no script run.
      const row = page.locator('#layers tr').nth(1);
      expect(await row.locator('td').first().textContent()).toBe(EVIL_LAYER);
      expect(await row.locator('td').nth(2).textContent()).toBe('3');
      expect(await page.locator('img').count()).toBe(0);
      expect(await page.evaluate(() => typeof (globalThis as { __xss?: unknown }).__xss)).toBe('undefined');
      expect(await page.textContent('#bus')).toContain('none');

      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('answers 403 to a browser without credentials, on the page and on the JSON', async () => {
    const context = await browser.newContext();
    try {
      const { page } = await openPage(context);
      expect((await page.goto(`${origin}/ops/cache`))?.status()).toBe(403);
      expect((await page.goto(`${origin}/ops/cache/stats`))?.status()).toBe(403);
      expect((await context.request.get(`${origin}/ops/cache/stats`)).status()).toBe(403);
      await context.addCookies([{ name: 'lc_admin', value: 'wrong', url: origin }]);
      expect((await context.request.get(`${origin}/ops/cache/stats`)).status()).toBe(403);
    } finally {
      await context.close();
    }
  });
});
