// Lint: typescript-eslint's recommended, type-aware rules that catch the bugs that matter in a
// service (floating promises, misused promises), without style noise.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // packages/sdk/src/generated: openapi-typescript's output (npm run sdk:generate).
  { ignores: ['node_modules/**', 'data/**', 'dist/**', 'coverage/**', 'web/**/dist/**', 'test/artifacts/**', 'packages/*/dist/**', 'packages/sdk/src/generated/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Dependencies point one way: features and the platform never import the composition root
    // (src/app/), and the platform never imports a feature module. What routes need from HTTP
    // (the Api type, common schemas, the unit of work) lives in src/platform/http/.
    files: ['src/modules/**/*.ts', 'src/platform/**/*.ts'],
    // An end-to-end test of the network guard through the whole app (buildApp + job handlers).
    ignores: ['src/platform/network-guard.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          group: ['**/app/*', '**/app', '**/src/app/**'],
          message: 'src/modules and src/platform must not import the composition root (src/app/); use src/platform/http/ instead.',
        }],
      }],
    },
  },
  {
    files: ['src/platform/**/*.ts'],
    ignores: ['src/platform/network-guard.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          {
            group: ['**/app/*', '**/app', '**/src/app/**'],
            message: 'src/platform must not import the composition root (src/app/).',
          },
          {
            group: ['**/modules/*', '**/modules/**', '**/src/modules/**'],
            message: 'src/platform must not import feature modules (src/modules/).',
          },
        ],
      }],
    },
  },
  {
    // Tests read JSON bodies of many shapes; typing each reply adds noise, not safety.
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
