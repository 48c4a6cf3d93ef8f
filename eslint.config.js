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
    // CommonJS because mocha loads its configuration files with require (test/fixtures/mocha/).
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // The dependency rule the folders show (README, Layout): lib/ <- drivers/ <- src/; lib/ <- coordinator/.
  // Each folder's block repeats the process and SQL restrictions, because a later block's
  // no-restricted-imports replaces an earlier one for the files it matches.
  ...boundaries(),
);

/** no-restricted-imports per top-level folder: execa, the SQL builders, and the folders it must not import. */
function boundaries() {
  const execa = { name: 'execa', message: 'Run processes only through lib/core/process.ts' };
  const sql = { name: 'sequelize', importNames: ['Op', 'literal', 'fn', 'col', 'where', 'cast', 'json'], message: 'These build model queries, whose values end up in the SQL text; use the bound helpers (src/db/repositories/raw-*.ts).' };
  const not = (folder, who) => ({ group: [`**/${folder}/**`], message: `${who} never imports ${folder}/ (lib/ <- drivers/ <- src/; lib/ <- coordinator/)` });
  const rule = (paths, patterns) => ({ 'no-restricted-imports': ['error', { paths, patterns }] });
  // A gitignore pattern cannot re-include a file under an excluded folder, hence a regex.
  const driversBeyondContract = { regex: '(^|/)drivers/(?!contract/)', message: 'src/ reaches drivers only through drivers/contract/ (the contract, its capabilities and the registry)' };
  const lib = [not('src', 'lib/'), not('drivers', 'lib/'), not('coordinator', 'lib/'), not('bench', 'lib/'), not('test', 'lib/')];
  return [
    { files: ['lib/**/*.ts'], rules: rule([execa, sql], lib) },
    { files: ['lib/core/process.ts'], rules: rule([sql], lib) },
    { files: ['drivers/**/*.ts'], rules: rule([execa, sql], [not('src', 'drivers/'), not('coordinator', 'drivers/')]) },
    // The contract declares every shape it exposes; only the registry reaches a driver (to load it).
    {
      files: ['drivers/contract/**/*.ts'],
      ignores: ['drivers/contract/registry.ts'],
      rules: rule([execa, sql], [not('src', 'drivers/'), not('coordinator', 'drivers/'), { regex: '(^|/)remotefs/', message: 'the driver contract declares its own types; a driver imports them, not the other way round' }]),
    },
    {
      files: ['src/**/*.ts'],
      rules: rule([execa, sql], [
        driversBeyondContract,
        not('coordinator', 'src/'),
      ]),
    },
    // The migrations are DDL: the SQL builders are theirs to use.
    { files: ['src/db/migrations/**/*.ts'], rules: rule([execa], [driversBeyondContract, not('coordinator', 'src/')]) },
    { files: ['coordinator/**/*.ts'], rules: rule([execa, sql], [not('src', 'coordinator/'), not('drivers', 'coordinator/')]) },
  ];
}
