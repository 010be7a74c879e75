import { Loan } from '../schemas/records.js'
import { itemRoute } from './shapes.js'

/** GET /users/{userID}/loans/{loanID}: one loan of the user (CONTRACT 2, 3.4). */
export default itemRoute({ kind: 'loans', record: Loan, operationId: 'getUserLoan', summary: 'One loan of a user' })
