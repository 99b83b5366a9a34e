/**
 * The published package: runs the real `npm pack` (whose `prepack` script rebuilds dist/ from scratch),
 * unpacks the tarball and checks its exact file list against the sources in lib/, that every source map
 * link and every map's `sources` resolve to a file inside the tarball, and that package.json's entry points
 * exist. Hard part: proving the build is clean, i.e. packing after a source was deleted ships none of its
 * old output; a stale file is planted in dist/ before packing and must not come out.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const PACK_TIMEOUT_MS = 120_000;

/** Every file below `dir`, as `/`-separated paths relative to `base`. */
function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? listFiles(path, base) : [relative(base, path).split('\\').join('/')];
  });
}

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' } });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** The `sourceMappingURL` a built file links to (undefined when it has none). */
function mapLink(text: string): string | undefined {
  return /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)?.[1];
}

/** Every string in package.json's `exports` (conditions nest). */
function exportTargets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(exportTargets);
  return [];
}

describe('npm pack', () => {
  let work: string;
  let unpacked: string;
  let files: string[];

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'layercache-pack-'));
    // A clean state that only the prepack build can fix: no build output, and a file a deleted source left.
    rmSync(join(root, 'dist'), { recursive: true, force: true });
    mkdirSync(join(root, 'dist'), { recursive: true });
    writeFileSync(join(root, 'dist', 'removed-source.js'), 'export {};\n');
    run('npm', ['pack', '--pack-destination', work], root);
    const tarballs = readdirSync(work).filter((name) => name.endsWith('.tgz'));
    expect(tarballs).toHaveLength(1);
    unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    run('tar', ['-xzf', join(work, tarballs[0] as string), '-C', unpacked], root);
    files = listFiles(join(unpacked, 'package')).sort();
  }, PACK_TIMEOUT_MS);

  afterAll(() => {
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('holds exactly LICENSE, README.md, package.json, the sources and, per source, its .js, .d.ts and their maps', () => {
    const sources = listFiles(join(root, 'lib')).filter((path) => path.endsWith('.ts'));
    expect(sources).toContain('index.ts');
    const expected = ['LICENSE', 'README.md', 'package.json'];
    for (const source of sources) {
      const stem = source.slice(0, -'.ts'.length);
      expected.push(`lib/${source}`, `dist/${stem}.js`, `dist/${stem}.js.map`, `dist/${stem}.d.ts`, `dist/${stem}.d.ts.map`);
    }
    expect(files).toEqual(expected.sort());
  });

  it('ships no tests, bench, sample, build config or stale output', () => {
    const outside = files.filter((path) => /^(test|bench|sample|docs|\.ci)\/|tsconfig|\.spec\.|removed-source/.test(path));
    expect(outside).toEqual([]);
  });

  it('links every built file to a map in the tarball, and every map to sources in the tarball', () => {
    const inside = new Set(files);
    const broken: string[] = [];
    for (const path of files.filter((file) => /\.(js|d\.ts)$/.test(file) && file.startsWith('dist/'))) {
      const link = mapLink(readFileSync(join(unpacked, 'package', path), 'utf8'));
      const target = link === undefined ? undefined : posix.join(posix.dirname(path), link);
      if (target === undefined || !inside.has(target)) broken.push(`${path} -> ${link ?? '(no sourceMappingURL)'}`);
    }
    for (const path of files.filter((file) => file.endsWith('.map'))) {
      const map = JSON.parse(readFileSync(join(unpacked, 'package', path), 'utf8')) as { sources: string[]; sourceRoot?: string };
      expect(map.sources.length).toBeGreaterThan(0);
      for (const source of map.sources) {
        const target = posix.join(posix.dirname(path), map.sourceRoot ?? '', source);
        if (!inside.has(target)) broken.push(`${path} sources ${source} -> ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("points package.json's main, types and exports at files in the tarball", () => {
    const manifest = JSON.parse(readFileSync(join(unpacked, 'package', 'package.json'), 'utf8')) as Record<string, unknown>;
    const targets = [manifest['main'], manifest['types'], ...exportTargets(manifest['exports'])];
    expect(targets.length).toBeGreaterThanOrEqual(4);
    for (const target of targets) {
      expect(typeof target).toBe('string');
      expect(files).toContain(posix.normalize(target as string));
    }
  });

  it('declares the nestjs-layercache executable: a built file in the tarball that starts with a node shebang', () => {
    const manifest = JSON.parse(readFileSync(join(unpacked, 'package', 'package.json'), 'utf8')) as { bin?: Record<string, string> };
    expect(manifest.bin).toEqual({ 'nestjs-layercache': './dist/cli/main.js' });
    const target = posix.normalize(manifest.bin?.['nestjs-layercache'] as string);
    expect(files).toContain(target);
    expect(readFileSync(join(unpacked, 'package', target), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
  });

  it('carries the MIT license of the contributors', () => {
    const license = readFileSync(join(unpacked, 'package', 'LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 nestjs-layercache contributors\n/);
    expect(JSON.parse(readFileSync(join(unpacked, 'package', 'package.json'), 'utf8'))).toMatchObject({ license: 'MIT' });
  });
});

