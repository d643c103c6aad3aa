// ESLint's flat config: `npm run lint` runs it, then `prettier --check` (layout is Prettier's alone: no
// rule here is about formatting). Every file is linted with type information (tsconfig.eslint.json), so
// the promise rules (no-floating-promises, no-misused-promises, await-thenable) see what a call returns,
// in the JavaScript of bench/ and scripts/ too.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** The rules about values typed `any`: in untyped JavaScript nearly everything is. */
const anyRules = {
  '@typescript-eslint/no-unsafe-argument': 'off',
  '@typescript-eslint/no-unsafe-assignment': 'off',
  '@typescript-eslint/no-unsafe-call': 'off',
  '@typescript-eslint/no-unsafe-member-access': 'off',
  '@typescript-eslint/no-unsafe-return': 'off',
};

export default tseslint.config(
  {
    ignores: ['dist/', 'docs/api/', 'coverage/', 'bench/results/', '.cache/', '.vm-cache/', 'node_modules/'],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: globals.node,
      parserOptions: {
        project: './tsconfig.eslint.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The promise rules, stated even where the recommended set has them: a promise nobody awaits loses
      // its rejection, and a promise where a callback's void is expected is never awaited by its caller.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // Off: an async function without await is how a function promises never to throw synchronously
      // (its throws become rejections), which the pool adapters and vitest callbacks here rely on.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // A caught value passed on as a rejection is not a new non-Error reason.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // Off: `argv[i]!` and the like say "this index exists" on purpose, ready for noUncheckedIndexedAccess;
      // without that option the rule calls each one unnecessary.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // The check before packing throws a Failure (src/wire/value-path.ts), not an Error: it collects the path
      // as it unwinds, and capturing a stack for every refused value would cost what the check is for.
      '@typescript-eslint/only-throw-error': [
        'error',
        { allowThrowingUnknown: true, allow: [{ from: 'file', name: 'Failure', path: 'src/wire/value-path.ts' }] },
      ],
    },
  },
  {
    // Tests read what fixtures and units print (JSON.parse, D-Bus variants) and check it with expect():
    // typing every such value would add casts, not safety.
    files: ['test/**'],
    rules: { ...anyRules, '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // JavaScript: TypeScript infers its types, without checkJs; the promise rules and the plain ones stay,
    // the rules whose findings would only be inference gaps go.
    files: ['**/*.js', '**/*.mjs'],
    rules: {
      ...anyRules,
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/restrict-plus-operands': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
);
