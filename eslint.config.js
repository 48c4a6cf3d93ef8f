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
        paths: [{ name: 'execa', message: 'Run processes only through lib/core/process.ts' }],
      }],
      'no-console': 'off',
    },
  },
  {
    // Values are bound by the database driver, never pasted into SQL: sequelize's model query
    // methods (findAll, count, update, destroy, create, ...) and `replacements` escape values into
    // the statement text, so outside the migrations (DDL) SQL goes through the repositories'
    // bound helpers (src/db/repositories/raw-*.ts, paging.ts, src/db/direct-query.ts). The
    // operator and literal builders only serve those methods. test/security/sql-bound.test.ts
    // checks the statements themselves.
    files: ['lib/**/*.ts', 'src/**/*.ts', 'coordinator/**/*.ts', 'drivers/**/*.ts'],
    ignores: ['src/db/migrations/**'],
    rules: {
      'no-restricted-syntax': ['error',
        {
          selector: "CallExpression[callee.property.name=/^(findAll|findOne|findByPk|findOrCreate|findOrBuild|findAndCountAll|findCreateFind|count|max|min|sum|aggregate|create|bulkCreate|build|update|destroy|restore|upsert|increment|decrement|truncate|save|reload)$/][callee.object.object.property.name='models']",
          message: 'Model query methods write values into the SQL text; use a repository method built on the bound helpers (src/db/repositories/raw-*.ts).',
        },
        {
          selector: "CallExpression[callee.property.name=/^(findAll|findOne|findByPk|findOrCreate|findOrBuild|findAndCountAll|findCreateFind|count|max|min|sum|aggregate|create|bulkCreate|build|update|destroy|restore|upsert|increment|decrement|truncate|save|reload)$/][callee.object.property.name=/^(model|Model|Volume|Snapshot|Attachment|Operation|Lease)$/]",
          message: 'Model query methods write values into the SQL text; use the bound helpers (src/db/repositories/raw-*.ts).',
        },
        {
          selector: "Property[key.name='replacements']",
          message: 'sequelize replacements are escaped into the SQL text; bind values (src/db/direct-query.ts).',
        },
      ],
      'no-restricted-imports': ['error', {
        paths: [
          { name: 'execa', message: 'Run processes only through lib/core/process.ts' },
          { name: 'sequelize', importNames: ['Op', 'literal', 'fn', 'col', 'where', 'cast', 'json'], message: 'These build model queries, whose values end up in the SQL text; use the bound helpers (src/db/repositories/raw-*.ts).' },
        ],
      }],
    },
  },
  {
    // Only the repositories (and the lease manager) touch the models, to read their column lists.
    files: ['lib/**/*.ts', 'src/**/*.ts', 'coordinator/**/*.ts', 'drivers/**/*.ts'],
    ignores: ['src/db/**'],
    rules: {
      'no-restricted-properties': ['error', { property: 'models', message: 'Use a repository method: only src/db reaches the models.' }],
    },
  },
  {
    files: ['lib/core/process.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['drivers/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'execa', message: 'Use lib/core/process.ts' }], patterns: [{ group: ['**/coordinator/**'], message: 'drivers/ never imports coordinator/' }] }] },
  },
  {
    files: ['coordinator/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'execa', message: 'Use lib/core/process.ts' }], patterns: [{ group: ['**/drivers/**'], message: 'coordinator/ never imports drivers/' }] }] },
  },
);
