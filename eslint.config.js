// Lint in the style of the Fastify organisation (neostandard), TypeScript included.
import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'coverage/**', '.tap/**', 'bench/**', '.serverless/**', 'node_modules/**']
  }),
  {
    rules: {
      // TypeBox's idiom: a schema and its static type share a name (const Loan, type Loan).
      '@typescript-eslint/no-redeclare': 'off'
    }
  }
]
