import { Request } from '../schemas/records.js'
import { itemRoute } from './shapes.js'

/** GET /users/{userID}/requests/{requestID}: one request of the user (CONTRACT 2, 3.4). */
export default itemRoute({ kind: 'requests', record: Request, operationId: 'getUserRequest', summary: 'One request of a user' })
