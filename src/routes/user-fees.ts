import { Fee } from '../schemas/records.js'
import { listRoute } from './shapes.js'

/** GET /users/{userID}/fees: every active fee of the user (CONTRACT 2, 3.3). */
export default listRoute({ kind: 'fees', record: Fee, operationId: 'getUserFees', summary: 'All active fees of a user' })
