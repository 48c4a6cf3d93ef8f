import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'var/**', '.cache/**', 'dist/**', 'dist.new/**', 'dist.old/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', {
        paths: [{ name: 'execa', message: 'Run processes only through src/core/process.ts' }],
      }],
      'no-console': 'off',
    },
  },
  {
    files: ['src/core/process.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['drivers/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'execa', message: 'Use src/core/process.ts' }], patterns: [{ group: ['**/coordinator/**'], message: 'drivers/ never imports coordinator/' }] }] },
  },
  {
    files: ['coordinator/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'execa', message: 'Use src/core/process.ts' }], patterns: [{ group: ['**/drivers/**'], message: 'coordinator/ never imports drivers/' }] }] },
  },
);
