import { Request } from '../schemas/records.js'
import { listRoute } from './shapes.js'

/** GET /users/{userID}/requests: every active request of the user (CONTRACT 2, 3.3). */
export default listRoute({ kind: 'requests', record: Request, operationId: 'getUserRequests', summary: 'All active requests of a user' })
