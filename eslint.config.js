// Flat config: typescript-eslint type-checked rules (no-floating-promises matters most: handlers are async)
// plus the import boundaries of the architecture (see README, "Layout").
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const restrict = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'collector/web/static/vendor/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    files: ['shared/**/*.ts'],
    rules: restrict([
      { group: ['**/agent/**', '**/collector/**'], message: 'shared/ must not depend on agent/ or collector/' },
      { group: ['ws', 'better-sqlite3', 'usb', 'systeminformation', 'koffi'], message: 'shared/ stays free of I/O libraries' },
    ]),
  },
  {
    files: ['agent/**/*.ts'],
    ignores: ['agent/platform/**'],
    rules: restrict([
      { group: ['**/collector/**'], message: 'agent/ and collector/ never import each other' },
      { group: ['usb', 'systeminformation', 'koffi'], message: 'OS libraries live under agent/platform/' },
    ]),
  },
  {
    files: ['collector/**/*.ts'],
    rules: restrict([
      { group: ['**/agent/**'], message: 'agent/ and collector/ never import each other' },
      { group: ['usb', 'systeminformation', 'koffi'], message: 'the collector has no USB code' },
    ]),
  },
  {
    files: ['scripts/**/*.ts', 'test/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
