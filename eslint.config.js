// ESLint: typescript-eslint's recommended rules over everything klv ships, tests and runs
// (src, test, scripts, bench, bin). `npm test` runs it after the build (pretest: npm run lint).
// Rules without type information only: the compiler already checks types, and this stays a
// few seconds (type-aware linting would cost about another full compile).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // Generated from Klaviyo's spec (npm run gen:api, and emulator-write-schemas.test.ts), not
  // written by hand.
  { ignores: ['dist/', 'coverage/', 'src/klaviyo/generated/', 'src/emulator/handlers/write-request-schemas.ts'] },
  // An eslint-disable comment that no longer disables anything is an error: it goes.
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_name` is the house spelling of "deliberately unused" (an argument an interface
      // requires, a field destructured away); `...rest` siblings leave a field out on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // klv strips NUL and control characters on purpose (PostgreSQL text cannot hold NUL).
      'no-control-regex': 'off',
    },
  },
  {
    // Tests read JSON answers loosely (`as any`) to assert on them; the types that matter are
    // those of src/, where `any` stays an error.
    // Fakes of readers that fail before their first row are generators without a yield, and
    // expected table output is matched with its aligning spaces.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', 'require-yield': 'off', 'no-regex-spaces': 'off' },
  },
);
