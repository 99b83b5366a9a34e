// The architecture of lib/, checked by `npm run lint` (dependency-cruiser): one-way folder dependencies and no
// import cycles between files. The picture and the reasons are in docs/architecture.md, "Layers of the code".
//
//   core                      contracts, entry envelope, keys, errors, in-process primitives and defaults
//   layers | stack | redis    storage layers | the engine | everything Redis (layer, tag store, locks, bus, leases)
//   common                    what the Nest-side folders share: DI tokens, @CacheTags metadata
//   decorators | http         method decorators | the HTTP interceptor (both use the stack's public surface)
//   module                    LayerCacheModule: picks the concrete classes and wires the rest
//   cli                       the `nestjs-layercache` admin executable: core, layers, redis, the stack's surface
//   index.ts                  the public surface
/** A rule forbidding imports from `from` into any of the folders in `to`. */
const forbid = (name, from, to, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path: `^lib/${from}/` },
  to: { path: `^lib/(${to.join('|')})/` },
});
const STACK_INTERNALS = '^lib/stack/(?!cache-stack\\.ts$|cache-stack\\.options\\.ts$)';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles between files of the library.',
      from: { path: '^lib/' },
      to: { circular: true },
    },
    {
      name: 'core-imports-nothing',
      severity: 'error',
      comment: 'lib/core is the base: it imports nothing else of the library.',
      from: { path: '^lib/core/' },
      to: { path: '^lib/', pathNot: '^lib/core/' },
    },
    forbid('layers-on-core-only', 'layers', ['stack', 'redis', 'common', 'module', 'decorators', 'http'], 'Layers build on core alone.'),
    forbid('stack-on-core-only', 'stack', ['layers', 'redis', 'common', 'module', 'decorators', 'http'], 'The engine builds on core contracts alone; concrete layers are given to it.'),
    forbid('redis-on-core-only', 'redis', ['layers', 'stack', 'common', 'module', 'decorators', 'http'], 'The Redis pieces build on core alone.'),
    forbid('common-below-nest-folders', 'common', ['layers', 'redis', 'module', 'decorators', 'http'], 'lib/common is shared by decorators, http and module, and imports none of them.'),
    forbid('decorators-not-http-or-module', 'decorators', ['layers', 'redis', 'module', 'http'], 'Decorators use core, the stack and common.'),
    forbid('http-not-decorators-or-module', 'http', ['layers', 'redis', 'module', 'decorators'], 'The HTTP interceptor uses core, the stack and common.'),
    forbid('cli-not-nest-folders', 'cli', ['common', 'module', 'decorators', 'http'], 'The admin CLI (lib/cli) uses core, layers, redis and the stack\'s public surface; never Nest.'),
    {
      name: 'nothing-imports-cli',
      severity: 'error',
      comment: 'lib/cli is the `nestjs-layercache` executable: no library file imports it, so importing the library never loads it.',
      from: { path: '^lib/', pathNot: '^lib/cli/' },
      to: { path: '^lib/cli/' },
    },
    {
      name: 'stack-public-surface-only',
      severity: 'error',
      comment: 'Outside lib/stack, the engine is reached through CacheStack and its options only.',
      from: { path: '^lib/(common|decorators|http|module|cli)/' },
      to: { path: STACK_INTERNALS },
    },
    {
      name: 'index-is-not-imported',
      severity: 'error',
      comment: 'lib/index.ts is the public surface for users; the library imports its files directly.',
      from: { path: '^lib/' },
      to: { path: '^lib/index\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^lib/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
