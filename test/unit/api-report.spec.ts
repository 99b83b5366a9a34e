/**
 * The API report: the public surface of lib/index.ts (every exported name with its kind) must equal the committed
 * etc/api.md, so any change to the surface shows in review; and every export must carry a JSDoc comment.
 * Hard part: types exist only at compile time, so the list comes from the TypeScript compiler API (a program over
 * lib/index.ts, its exports resolved through the re-export aliases to their declarations), not from `import()`.
 * After a deliberate change: `UPDATE_API_REPORT=1 npm test -- test/unit/api-report.spec.ts`, then commit etc/api.md.
 * A third check walks the exported declarations (not bodies, not private members) for types of lib/ they name
 * without exporting them: a user could not write such a type down (an option type, a hook's parameter).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const ROOT = process.cwd();
const INDEX = join(ROOT, 'lib', 'index.ts');
const REPORT = join(ROOT, 'etc', 'api.md');

/** lib/ declarations that exported ones name without exporting them, each with why that is acceptable. */
const KNOWN_UNEXPORTED: Readonly<Record<string, string>> = {
  ConfigurableLayerCacheModule: "the generated base class of LayerCacheModule (Nest's ConfigurableModuleBuilder)",
  LAYER_CACHE_OPTIONS_FACTORY_METHOD: 'the method name of LayerCacheOptionsFactory, used through `typeof` only',
  HttpRoutePlan: "the `plan` parameter of LayerCacheInterceptor's protected hooks; internal until the hooks take a public view",
};

interface ApiExport {
  readonly name: string;
  readonly kind: string;
  readonly documented: boolean;
}

/** A program over lib/index.ts with the project's compiler options, and the symbols it exports (aliases resolved). */
interface OpenIndex {
  readonly checker: ts.TypeChecker;
  readonly exports: readonly { name: string; symbol: ts.Symbol }[];
}

function openIndex(): OpenIndex {
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (path) => ts.sys.readFile(path));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const program = ts.createProgram([INDEX], { ...parsed.options, noEmit: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(INDEX);
  if (source === undefined) throw new Error(`cannot read ${INDEX}`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (moduleSymbol === undefined) throw new Error('lib/index.ts is not a module');
  const exports = checker.getExportsOfModule(moduleSymbol).map((exported) => ({ name: exported.name, symbol: resolveAlias(checker, exported) }));
  return { checker, exports };
}

function resolveAlias(checker: ts.TypeChecker, symbol: ts.Symbol): ts.Symbol {
  return symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
}

/** The exports of lib/index.ts, resolved to their declarations, sorted by name. */
function readExports({ checker, exports }: OpenIndex): ApiExport[] {
  return exports
    .map(({ name, symbol }) => ({ name, kind: kindOf(symbol), documented: symbol.getDocumentationComment(checker).length > 0 }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Names of lib/ declarations that the exported declarations (signatures, not bodies or private members) refer to without exporting. */
function unexportedReferences({ checker, exports }: OpenIndex): Map<string, Set<string>> {
  const exported = new Set(exports.map((e) => e.symbol));
  const libDir = join(ROOT, 'lib') + '/';
  const found = new Map<string, Set<string>>();
  for (const { name, symbol } of exports) {
    const visit = (node: ts.Node): void => {
      if (ts.isBlock(node) || isPrivateMember(node)) return;
      const target = ts.isTypeReferenceNode(node) ? node.typeName : ts.isTypeQueryNode(node) ? node.exprName : ts.isExpressionWithTypeArguments(node) ? node.expression : undefined;
      const referenced = target === undefined ? undefined : checker.getSymbolAtLocation(target);
      if (referenced !== undefined) {
        const resolved = resolveAlias(checker, referenced);
        const file = resolved.declarations?.[0]?.getSourceFile().fileName ?? '';
        if (file.startsWith(libDir) && !exported.has(resolved) && (resolved.flags & ts.SymbolFlags.TypeParameter) === 0) {
          const users = found.get(resolved.name) ?? new Set<string>();
          users.add(name);
          found.set(resolved.name, users);
        }
      }
      ts.forEachChild(node, visit);
    };
    for (const declaration of symbol.declarations ?? []) visit(declaration);
  }
  return found;
}

function isPrivateMember(node: ts.Node): boolean {
  if (!ts.isClassElement(node)) return false;
  if (node.name !== undefined && ts.isPrivateIdentifier(node.name)) return true;
  return (ts.canHaveModifiers(node) ? (ts.getModifiers(node) ?? []) : []).some((modifier) => modifier.kind === ts.SyntaxKind.PrivateKeyword);
}

function kindOf(symbol: ts.Symbol): string {
  const f = symbol.flags;
  if (f & ts.SymbolFlags.Class) return 'class';
  if (f & ts.SymbolFlags.Function) return 'function';
  if (f & ts.SymbolFlags.Enum) return 'enum';
  if (f & ts.SymbolFlags.Variable) {
    const declaration = symbol.valueDeclaration;
    const list = declaration?.parent;
    return list !== undefined && ts.isVariableDeclarationList(list) && (list.flags & ts.NodeFlags.Const) !== 0 ? 'const' : 'variable';
  }
  if (f & ts.SymbolFlags.Interface) return 'interface';
  if (f & ts.SymbolFlags.TypeAlias) return 'type';
  return `unknown (flags ${f})`;
}

function render(exports: readonly ApiExport[]): string {
  const counts = new Map<string, number>();
  for (const e of exports) counts.set(e.kind, (counts.get(e.kind) ?? 0) + 1);
  const summary = [...counts].map(([kind, count]) => `${count} ${kind}`).join(', ');
  return [
    '# API report of nestjs-layercache',
    '',
    'Generated by test/unit/api-report.spec.ts from lib/index.ts; do not edit by hand. The test fails when the',
    'exports change: after a deliberate change run `UPDATE_API_REPORT=1 npm test -- test/unit/api-report.spec.ts`',
    'and commit this file with the change (and its line in CHANGELOG.md). What each export is for: docs/api.md.',
    '',
    `${exports.length} exports: ${summary}.`,
    '',
    '| export | kind |',
    '|---|---|',
    ...exports.map((e) => `| \`${e.name}\` | ${e.kind} |`),
    '',
  ].join('\n');
}

/** The lines only in `expected` (`-`) and only in `actual` (`+`). */
function lineDiff(expected: string, actual: string): string {
  const before = new Set(expected.split('\n'));
  const after = new Set(actual.split('\n'));
  return [...[...before].filter((line) => !after.has(line)).map((line) => `- ${line}`), ...[...after].filter((line) => !before.has(line)).map((line) => `+ ${line}`)].join('\n');
}

describe('public API report', () => {
  const index = openIndex();
  const exports = readExports(index);

  it('lists the exports of lib/index.ts and their kinds exactly as etc/api.md does', () => {
    const actual = render(exports);
    if (process.env['UPDATE_API_REPORT'] === '1') writeFileSync(REPORT, actual);
    const committed = readFileSync(REPORT, 'utf8');
    if (committed !== actual) {
      throw new Error(
        'The public API changed: lib/index.ts no longer matches etc/api.md.\n' +
          `${lineDiff(committed, actual)}\n` +
          'If the change is deliberate: UPDATE_API_REPORT=1 npm test -- test/unit/api-report.spec.ts, then commit ' +
          'etc/api.md, document the export in docs/api.md and list the change in CHANGELOG.md.',
      );
    }
  });

  it('finds a JSDoc comment on every export', () => {
    expect(exports.filter((e) => !e.documented).map((e) => e.name)).toEqual([]);
  });

  it('names in its declarations no type of lib/ it does not export, but the known few', () => {
    const unexported = unexportedReferences(index);
    const unknown = [...unexported].filter(([name]) => KNOWN_UNEXPORTED[name] === undefined).map(([name, users]) => `${name} (named by ${[...users].join(', ')})`);
    expect(unknown).toEqual([]);
  });

  it('exports no internals of the HTTP interceptor or the metadata readers', () => {
    const names = new Set(exports.map((e) => e.name));
    for (const internal of ['HttpRoutePlan', 'StoredResponse', 'HandlerOutcome', 'buildRequestKey', 'LAYER_CACHE_HTTP_OPTIONS', 'getCacheTags']) {
      expect(names.has(internal)).toBe(false);
    }
  });
});
