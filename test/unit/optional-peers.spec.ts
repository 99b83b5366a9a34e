import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// ioredis is an optional peer: the library must load without it. Only `import type` may name it in lib/.
const LIB = join(process.cwd(), 'lib');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((item) =>
    item.isDirectory() ? sources(join(dir, item.name)) : item.name.endsWith('.ts') ? [join(dir, item.name)] : [],
  );
}

describe('optional peers', () => {
  it('lib/ imports ioredis for its types only', () => {
    const offenders: string[] = [];
    for (const file of sources(LIB)) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/^\s*(import|export)\b([^;]*?)from\s+['"]ioredis['"]/gms)) {
        if (!/^\s*(import|export)\s+type\b/.test(match[0])) offenders.push(`${file}: ${match[0].trim()}`);
      }
      // The one exception: the `redis` shortcut of LayerCacheModule loads ioredis lazily, when it is used.
      const lazyLoader = file.endsWith(join('lib', 'module', 'redis-connection.factory.ts'));
      if (!lazyLoader && /\b(require|import)\(\s*['"]ioredis['"]\s*\)/.test(text)) offenders.push(`${file}: dynamic ioredis import`);
    }
    expect(offenders).toEqual([]);
    expect(sources(LIB).some((file) => readFileSync(file, 'utf8').includes("from 'ioredis'"))).toBe(true);
    // ...and only inside a function: importing the library never loads ioredis.
    const loader = readFileSync(join(LIB, 'module', 'redis-connection.factory.ts'), 'utf8');
    expect(loader.match(/\bimport\(\s*'ioredis'\s*\)/g)).toHaveLength(1);
    expect(loader).toMatch(/async function openRedisConnection[\s\S]*await import\('ioredis'\)/);
  });
});

// prom-client is an optional peer too: only the module's Prometheus export loads it, lazily, for `prometheus: true`.
describe('optional peer prom-client', () => {
  it('lib/ never imports prom-client statically; the Prometheus export imports it inside a function', () => {
    const offenders = sources(LIB).filter((file) => /^\s*(import|export)\b[^;]*?from\s+['"]prom-client['"]/ms.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
    const dynamic = sources(LIB).filter((file) => /\bimport\(\s*'prom-client'\s*\)/.test(readFileSync(file, 'utf8')));
    expect(dynamic).toEqual([join(LIB, 'module', 'layer-cache.prometheus.ts')]);
    expect(readFileSync(dynamic[0] as string, 'utf8')).toMatch(/async function defaultRegistry[\s\S]*await import\('prom-client'\)/);
  });
});
