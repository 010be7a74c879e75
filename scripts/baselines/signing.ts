// SigV4 signing for the baselines that call AWS without an SDK client.
import { createHash, createHmac } from 'node:crypto'

type SourceData = string | ArrayBuffer | ArrayBufferView
const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string' ? data : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data)

/** The signer's hash interface over node:crypto. */
export class Sha256 {
  readonly #hash
  constructor (secret?: SourceData) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret))
  }

  update (data: SourceData): void { this.#hash.update(bytes(data)) }
  async digest (): Promise<Uint8Array> { return new Uint8Array(this.#hash.digest()) }
}

export const env = (name: string) => process.env[name] as string

/** Credentials where the Lambda runtime puts them. */
export const environmentCredentials = () =>
  ({ accessKeyId: env('AWS_ACCESS_KEY_ID'), secretAccessKey: env('AWS_SECRET_ACCESS_KEY'), sessionToken: process.env.AWS_SESSION_TOKEN })
