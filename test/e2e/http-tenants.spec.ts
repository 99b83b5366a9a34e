// What a handler can read that varies its body is in the key or bypasses the cache: host-routed controllers
// (`@HostParam`), headers read with `@Headers(name)`, the whole request (`@Req()`: only declared `vary`), opaque
// arguments (`@Ip()`, `@Session()`, custom decorators) and request bodies; on Express and Fastify.
import 'reflect-metadata';
import {
  Body,
  Controller,
  createParamDecorator,
  Get,
  Headers,
  HostParam,
  Inject,
  Injectable,
  Ip,
  Req,
  Session,
  UseInterceptors,
  type ExecutionContext,
} from '@nestjs/common';
import request from 'supertest';
import { HttpCache, LayerCacheInterceptor } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { recordHttpWarnings, startHttpApp } from '../support/http-app.js';
import { ADAPTERS } from '../support/nest-app.js';

@Injectable()
class Runs {
  count = 0;
}

@UseInterceptors(LayerCacheInterceptor)
@HttpCache({ ttl: 30 })
@Controller({ path: 'tenant', host: ':tenant.example.test' })
class TenantController {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  @Get('secret')
  secret(@HostParam('tenant') tenant: string) {
    return { tenant, secret: `data-of-${tenant}`, run: ++this.runs.count };
  }
}

/** Reads the host the way a tenant-aware custom decorator would. */
const TenantOf = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
  return (req.headers.host ?? '').split('.')[0];
});

const READ_HEADERS = ['host', 'x-forwarded-host', 'x-forwarded-proto', 'accept', 'accept-language', 'accept-encoding'] as const;

@UseInterceptors(LayerCacheInterceptor)
@HttpCache({ ttl: 30 })
@Controller('read')
class ReadingController {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  @Get('headers')
  headers(
    @Headers('Host') host: string,
    @Headers('X-Forwarded-Host') forwardedHost: string,
    @Headers('x-forwarded-proto') forwardedProto: string,
    @Headers('accept') accept: string,
    @Headers('Accept-Language') language: string,
    @Headers('accept-encoding') encoding: string,
  ) {
    return { host, forwardedHost, forwardedProto, accept, language, encoding, run: ++this.runs.count };
  }

  @Get('raw')
  raw(@Req() req: { headers: Record<string, string | undefined> }) {
    return { language: req.headers['accept-language'] ?? null, run: ++this.runs.count };
  }

  @Get('raw-declared')
  @HttpCache({ ttl: 30, vary: ['Accept-Language'] })
  rawDeclared(@Req() req: { headers: Record<string, string | undefined> }) {
    return { language: req.headers['accept-language'] ?? null, run: ++this.runs.count };
  }

  @Get('all-headers')
  allHeaders(@Headers() headers: Record<string, string | undefined>) {
    return { language: headers['accept-language'] ?? null, run: ++this.runs.count };
  }

  @Get('session')
  session(@Session() session: unknown) {
    return { session: session ?? null, run: ++this.runs.count };
  }

  @Get('ip')
  ip(@Ip() ip: string) {
    return { ip, run: ++this.runs.count };
  }

  @Get('custom')
  custom(@TenantOf() tenant: string) {
    return { tenant, run: ++this.runs.count };
  }

  @Get('custom-declared')
  @HttpCache({ ttl: 30, vary: ['Host'] })
  customDeclared(@TenantOf() tenant: string) {
    return { tenant, run: ++this.runs.count };
  }

  @Get('body')
  body(@Body() body: unknown) {
    return { body: body ?? null, run: ++this.runs.count };
  }
}

describe.each(ADAPTERS)('HTTP keys cover what the handler reads (%s)', (adapter) => {
  async function start() {
    const started = await startHttpApp(adapter, { controllers: [TenantController, ReadingController], providers: [Runs], clock: new FakeClock() });
    return { ...started, runs: started.app.get(Runs) };
  }

  it('never answers a host-routed tenant with another tenant’s entry', async () => {
    const { url } = await start();
    const as = (tenant: string) => request(url).get('/tenant/secret').set('Host', `${tenant}.example.test`);
    const answers = [await as('alice'), await as('bob'), await as('alice'), await as('BOB')];
    expect(answers.map((a) => [a.status, a.headers['x-cache'], a.body.secret])).toEqual([
      [200, 'MISS', 'data-of-alice'],
      [200, 'MISS', 'data-of-bob'],
      [200, 'HIT', 'data-of-alice'],
      [200, 'HIT', 'data-of-bob'],
    ]);
  });

  it.each(READ_HEADERS)('keys a header read with @Headers(name): %s, and lists it in Vary', async (header) => {
    const { url } = await start();
    const values: Record<(typeof READ_HEADERS)[number], [string, string]> = {
      host: ['a.example.test', 'b.example.test'],
      'x-forwarded-host': ['a.example.test', 'b.example.test'],
      'x-forwarded-proto': ['http', 'https'],
      accept: ['application/json', 'text/html'],
      'accept-language': ['en', 'fr'],
      'accept-encoding': ['gzip', 'br'],
    };
    const [first, second] = values[header];
    const get = (value: string) => request(url).get('/read/headers').set(header, value);
    const answers = [await get(first), await get(second), await get(first)];
    expect(answers.map((a) => a.headers['x-cache'])).toEqual(['MISS', 'MISS', 'HIT']);
    expect(answers.map((a) => a.body.run)).toEqual([1, 2, 1]);
    const vary = String(answers[2]?.headers.vary).split(', ');
    expect([...vary].sort()).toEqual([...READ_HEADERS].sort());
  });

  it('keys a handler taking @Req() or @Headers() only by what the route declares in vary', async () => {
    const { url } = await start();
    const get = (path: string, language: string) => request(url).get(path).set('Accept-Language', language);
    for (const path of ['/read/raw', '/read/all-headers']) {
      const undeclared = [await get(path, 'en'), await get(path, 'fr')];
      expect(undeclared.map((a) => [a.headers['x-cache'], a.body.language])).toEqual([
        ['MISS', 'en'],
        ['HIT', 'en'],
      ]);
    }
    const declared = [await get('/read/raw-declared', 'en'), await get('/read/raw-declared', 'fr'), await get('/read/raw-declared', 'en')];
    expect(declared.map((a) => [a.headers['x-cache'], a.body.language])).toEqual([
      ['MISS', 'en'],
      ['MISS', 'fr'],
      ['HIT', 'en'],
    ]);
  });

  it('bypasses routes taking @Ip(), @Session() or a custom parameter decorator unless they declare vary or key, warning once', async () => {
    const warnings = recordHttpWarnings();
    const { url, runs } = await start();
    const sessions = [await request(url).get('/read/session'), await request(url).get('/read/session')];
    expect(sessions.map((a) => a.headers['x-cache'])).toEqual(['BYPASS', 'BYPASS']);
    runs.count = 0;
    const ips = [await request(url).get('/read/ip'), await request(url).get('/read/ip')];
    const customs = [await request(url).get('/read/custom').set('Host', 'alice.example.test'), await request(url).get('/read/custom').set('Host', 'bob.example.test')];
    expect([...ips, ...customs].map((a) => a.headers['x-cache'])).toEqual(['BYPASS', 'BYPASS', 'BYPASS', 'BYPASS']);
    expect(customs.map((a) => a.body.tenant)).toEqual(['alice', 'bob']);
    expect(runs.count).toBe(4);
    expect(warnings.filter((line) => line.includes('ReadingController.ip')).length).toBe(1);
    expect(warnings.filter((line) => line.includes('ReadingController.custom ')).length).toBe(1);
    const declared = [
      await request(url).get('/read/custom-declared').set('Host', 'alice.example.test'),
      await request(url).get('/read/custom-declared').set('Host', 'bob.example.test'),
      await request(url).get('/read/custom-declared').set('Host', 'alice.example.test'),
    ];
    expect(declared.map((a) => [a.headers['x-cache'], a.body.tenant])).toEqual([
      ['MISS', 'alice'],
      ['MISS', 'bob'],
      ['HIT', 'alice'],
    ]);
  });

  it('bypasses a request carrying a body on a route reading @Body()', async () => {
    const { url } = await start();
    await request(url).get('/read/body');
    const sent = await request(url).get('/read/body').set('Content-Type', 'application/json').send(JSON.stringify({ who: 'bob' }));
    // Express parses a GET body, Fastify does not: either way the request bypasses
    expect([sent.headers['x-cache'], sent.body.run]).toEqual(['BYPASS', 2]);
    expect(sent.body.body).toEqual(adapter === 'express' ? { who: 'bob' } : null);
    expect((await request(url).get('/read/body')).headers['x-cache']).toBe('HIT');
  });
});
