// ESLint for the labextension's TypeScript (prettier owns the formatting).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['lib/', 'labextension/', 'node_modules/', 'tests/ui/', '**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['jupyter_ext/**/*.{ts,tsx}'],
    rules: {
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-unused-expressions': ['error', { allowTernary: true, allowShortCircuit: true }],
      eqeqeq: 'error',
      curly: 'error'
    }
  }
);
