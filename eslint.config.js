// The linter (npm test runs it): typescript-eslint with type information, for the bugs a type
// checker does not see in async code — a promise nobody awaits or catches, a promise where a
// callback's result is ignored — which is most of what a supervisor and a proxy do.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['.build/**', 'node_modules/**', '.tap/**', 'bin/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // the lighttpd parser unwinds a statement it cannot read with this marker (its diagnostic is already recorded)
      '@typescript-eslint/only-throw-error': ['error', { allow: [{ from: 'file', name: 'SyntaxAbort' }] }],
    },
  },
  {
    files: ['test/**/*.ts', 'eslint.config.js'],
    rules: {
      // tap's t.test() at the top level of a file is awaited by tap, and its callbacks are async by habit
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/require-await': 'off',
      // tests read the JSON answers of the system under test and assert on them field by field
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
