import { Loan } from '../schemas/records.js'
import { listRoute } from './shapes.js'

/** GET /users/{userID}/loans: every active loan of the user (CONTRACT 2, 3.3). */
export default listRoute({ kind: 'loans', record: Loan, operationId: 'getUserLoans', summary: 'All active loans of a user' })
