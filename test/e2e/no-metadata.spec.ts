import { spawnSync } from 'node:child_process';

/**
 * Apps compiled without decorator metadata (esbuild/tsx, swc without it) must start: every injection in the
 * library names its token. Runs a real app in a child process through tsx.
 */
describe('an app built without decorator metadata', () => {
  it('starts the module and caches through @Cacheable', () => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'test/support/no-metadata-app.ts'], { encoding: 'utf8', timeout: 60_000 });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    expect(JSON.parse(child.stdout.trim())).toEqual({ runs: 1, metadata: false });
  });
});
