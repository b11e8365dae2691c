import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '*.js', '*.mjs', 'test/support/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { paths: [{ name: 'jose', message: 'Only libs/crypto imports jose (STYLE.md).' }] }],
      'no-console': 'off',
    },
  },
  {
    files: ['libs/crypto/src/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // The images ship dist/libs and dist/apps without devDependencies: production code must not load test support.
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    ignores: ['libs/testing/**', 'libs/crypto/**', 'libs/*/src/testing/**', 'libs/*/testing/**', '**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'jose', message: 'Only libs/crypto imports jose (STYLE.md).' }],
          patterns: [{ group: ['@fpa/testing', '@fpa/testing/*', '@fpa/grants/testing', '@fpa/openid-federation/testing', '@fpa/verifier/testing'], message: 'Test support (libs/testing, a lib testing/ folder) is for test/, tools/ and specs only.' }],
        },
      ],
    },
  },
  {
    // tools/ run libs/testing from dist/ without jest: no jest globals outside its specs.
    files: ['libs/testing/src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: { 'no-restricted-globals': ['error', ...['expect', 'describe', 'it', 'test', 'jest', 'beforeAll', 'afterAll', 'beforeEach', 'afterEach'].map((name) => ({ name, message: 'libs/testing runs without jest (tools/ use it); keep jest helpers in test/support.' }))] },
  },
);
