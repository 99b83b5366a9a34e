// @ts-check
// Flat config for ESLint 10 + typescript-eslint 8. Non-type-checked rules: fast, no TS program built.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** The engine must stay usable and testable without Nest (docs/architecture.md, "Layers of the code"). */
const ENGINE_IMPORT_MESSAGE =
  'lib/core, lib/layers, lib/stack and lib/redis must not import @nestjs/* or rxjs ' +
  '(see docs/architecture.md, "Layers of the code"); Nest-specific code goes in lib/common, lib/module, lib/decorators or lib/http.';

export default defineConfig(
  // test/consumers holds standalone apps (own package.json, tsconfig and dependencies), not the library's code.
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tmp/**', 'test/consumers/**'] },
  {
    files: ['**/*.{ts,mts,cts,js,mjs,cjs}'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'warn' },
    rules: {
      // `_`-prefixed names are deliberately unused (placeholders, ignored callback arguments).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrors: 'all',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    // The library: no `any` (use generics or `unknown`; docs/development.md, "Code conventions").
    files: ['lib/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'error' },
  },
  {
    // The engine never depends on Nest or rxjs. (Folder dependencies and cycles: .ci/dependency-cruiser.cjs.)
    files: ['lib/core/**', 'lib/layers/**', 'lib/stack/**', 'lib/redis/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@nestjs/*'], message: ENGINE_IMPORT_MESSAGE },
            { group: ['rxjs', 'rxjs/*'], message: ENGINE_IMPORT_MESSAGE },
          ],
        },
      ],
    },
  },
  {
    // Tests may use `any` for mocks and deliberately wrong inputs.
    files: ['test/**', '**/*.spec.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
