import { Fee } from '../schemas/records.js'
import { itemRoute } from './shapes.js'

/** GET /users/{userID}/fees/{feeID}: one fee of the user (CONTRACT 2, 3.4). */
export default itemRoute({ kind: 'fees', record: Fee, operationId: 'getUserFee', summary: 'One fee of a user' })
