import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// ioredis, memjs, prom-client, @nestjs/terminus and @opentelemetry/api are optional peers: the library must load
// without them. Only `import type` may name ioredis and memjs in lib/; the others are not named outside their lazy
// loaders (their types are structural).
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
      // The exceptions: the `redis` shortcut of LayerCacheModule and the admin CLI (lib/cli, which nothing in lib/
      // imports) load ioredis lazily, when they are used.
      const lazyLoader = file.endsWith(join('lib', 'module', 'redis-connection.factory.ts')) || file.endsWith(join('lib', 'cli', 'cli-connection.ts'));
      if (!lazyLoader && /\b(require|import)\(\s*['"]ioredis['"]\s*\)/.test(text)) offenders.push(`${file}: dynamic ioredis import`);
    }
    expect(offenders).toEqual([]);
    expect(sources(LIB).some((file) => readFileSync(file, 'utf8').includes("from 'ioredis'"))).toBe(true);
    // ...and only inside a function: importing the library never loads ioredis.
    const loader = readFileSync(join(LIB, 'module', 'redis-connection.factory.ts'), 'utf8');
    expect(loader.match(/\bimport\(\s*'ioredis'\s*\)/g)).toHaveLength(1);
    expect(loader).toMatch(/async function openRedisConnection[\s\S]*await import\('ioredis'\)/);
    const cliLoader = readFileSync(join(LIB, 'cli', 'cli-connection.ts'), 'utf8');
    expect(cliLoader.match(/\bimport\(\s*'ioredis'\s*\)/g)).toHaveLength(1);
    expect(cliLoader).toMatch(/async function openCliConnection[\s\S]*await import\('ioredis'\)/);
  });

  it('lib/ contains no import.meta (a CommonJS app\'s Jest transforms the package to CommonJS and cannot compile it)', () => {
    expect(sources(LIB).filter((file) => readFileSync(file, 'utf8').includes('import.meta'))).toEqual([]);
  });

  it('lib/ names memjs for its types only, and loads it inside functions of memcached-client.ts', () => {
    const offenders: string[] = [];
    for (const file of sources(LIB)) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/^\s*(import|export)\b([^;]*?)from\s+['"]memjs['"]/gms)) {
        if (!/^\s*(import|export)\s+type\b/.test(match[0])) offenders.push(`${file}: ${match[0].trim()}`);
      }
      const loader = file.endsWith(join('lib', 'layers', 'memcached-client.ts'));
      if (!loader && /\b(require|import|requireOptionalPeer(<[^>]*>)?)\(\s*['"]memjs['"]\s*\)/.test(text)) offenders.push(`${file}: memjs loaded`);
    }
    expect(offenders).toEqual([]);
    const loader = readFileSync(join(LIB, 'layers', 'memcached-client.ts'), 'utf8');
    // Every load sits in an indented function body, never at the top level of the module.
    const loads = [...loader.matchAll(/^(\s*).*requireOptionalPeer<[^>]*>\('memjs'\)/gm)];
    expect(loads.length).toBeGreaterThan(0);
    for (const load of loads) expect(load[1]?.length).toBeGreaterThan(0);
  });

  it('lib/ never names @nestjs/terminus: the health indicator is structural, so importing the library never loads it', () => {
    const offenders = sources(LIB).filter((file) => /['"]@nestjs\/terminus['"]/.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
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

// @opentelemetry/api: loaded only by `tracing: true`, from the app (lib/core/optional-peer.ts).
describe('optional peer @opentelemetry/api', () => {
  it('lib/ loads @opentelemetry/api only in the tracing seam, inside the function that needs it', () => {
    const seam = join('lib', 'stack', 'tracing.ts');
    const offenders: string[] = [];
    for (const file of sources(LIB)) {
      const text = readFileSync(file, 'utf8');
      if (/from\s+['"]@opentelemetry\//.test(text)) offenders.push(`${file}: static @opentelemetry import`);
      if (!file.endsWith(seam) && /['"]@opentelemetry\/api['"]/.test(text)) offenders.push(`${file}: names @opentelemetry/api`);
    }
    expect(offenders).toEqual([]);
    const loader = readFileSync(join(LIB, 'stack', 'tracing.ts'), 'utf8');
    expect(loader.match(/'@opentelemetry\/api'\)/g)).toHaveLength(1);
    expect(loader).toMatch(/function globalTracer\(\)[^{]*\{[\s\S]*requireOptionalPeer<[^>]*>\('@opentelemetry\/api'\)/);
  });

  it('importing the library and using a stack without tracing does not load @opentelemetry/api; tracing: true does', () => {
    // A fresh process: Jest's own module registry would hide what Node loaded.
    const script = `
      const { createRequire } = await import('node:module');
      const lib = await import(${JSON.stringify(join(LIB, 'index.ts'))});
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes('@opentelemetry'));
      const plain = new lib.CacheStack([new lib.MemoryLayer()], { tracing: false });
      await plain.get('k', () => 1);
      const before = loaded();
      const traced = new lib.CacheStack([new lib.MemoryLayer()], { tracing: true });
      await traced.get('k', () => 1);
      console.log(JSON.stringify({ before, after: loaded() }));
      await plain.close();
      await traced.close();`;
    const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(output.trim())).toEqual({ before: false, after: true });
  });

  it('tracing: true without @opentelemetry/api installed: an InvalidOptionError naming tracing; a given tracer needs no package', () => {
    // A fresh process in which resolving @opentelemetry/api fails, as in an app that does not have it.
    const script = `
      const { default: Module } = await import('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === '@opentelemetry/api') throw Object.assign(new Error("Cannot find module '@opentelemetry/api'"), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, request, ...rest);
      };
      const lib = await import(${JSON.stringify(join(LIB, 'index.ts'))});
      let error;
      try { new lib.CacheStack([new lib.MemoryLayer()], { tracing: true }); } catch (e) { error = e; }
      const names = [];
      const tracer = { startActiveSpan: (name, options, fn) => (names.push(name), fn({ setAttribute() {}, setStatus() {}, recordException() {}, end() {} })) };
      const own = new lib.CacheStack([new lib.MemoryLayer()], { tracing: { tracer } });
      const value = await own.get('k', () => 1);
      await own.close();
      console.log(JSON.stringify({ isOption: error instanceof lib.InvalidOptionError, option: error?.option, message: error?.message, value, names }));`;
    const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const result = JSON.parse(output.trim()) as { isOption: boolean; option: string; message: string; value: number; names: string[] };
    expect(result).toMatchObject({ isOption: true, option: 'tracing', value: 1, names: ['layercache.load'] });
    expect(result.message).toContain('npm install @opentelemetry/api');
  });
});
