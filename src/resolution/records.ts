import { isItemID, userCacheKey } from './identifiers.js'
import { isJsonObject, KIND_SPECS, KINDS, USER_KEY_FIELD, USER_VALIDITY_FIELD, type AlmaRecord, type Kind, type KindSpec } from './kinds.js'

/**
 * The record of CONTRACT 2.1, from a cached row or an Alma record alike: only
 * the contract's fields, each value exactly as the source gave it. This is the
 * one place that decides what a caller sees of a record.
 */
export function toRecord (spec: KindSpec, source: AlmaRecord): AlmaRecord {
  const record: AlmaRecord = {}
  for (const field of spec.fields) {
    const sourceName = field in source ? field : spec.almaFieldNames?.[field]
    if (sourceName !== undefined && sourceName in source) record[field] = source[sourceName]
  }
  return record
}

export interface CachedItem {
  record: AlmaRecord
  /** its validity number is at least now (CONTRACT 3.2) */
  valid: boolean
}

/**
 * A cached row as a record of `userID`, or undefined when the row cannot be
 * used at all: missing, of another user (CONTRACT 3.2), or with attributes of
 * unexpected types (CONTRACT 4). An expired row is returned with valid false:
 * it may still be served as stale (CONTRACT 3.7).
 */
export function readCachedItem (spec: KindSpec, row: unknown, userID: string, now: number): CachedItem | undefined {
  if (!isJsonObject(row)) return undefined
  const owner = spec.ownerOf(row)
  if (typeof owner !== 'string' || userCacheKey(owner) !== userCacheKey(userID)) return undefined
  const validUntil = validityNumber(row[spec.validityField])
  if (validUntil === undefined) return undefined
  const record = toRecord(spec, row)
  if (!spec.hasExpectedTypes(record)) return undefined
  return { record, valid: validUntil >= now }
}

/** A validity attribute's unix seconds (CONTRACT 4), or undefined where it holds none: the row is then a miss. */
const validityNumber = (value: unknown): number | undefined =>
  typeof value === 'number' && !Number.isNaN(value) ? value : undefined

export interface CachedUser {
  /** its expiry_date is at least now (CONTRACT 3.1) */
  valid: boolean
  /**
   * The IDs listed for each kind; undefined where the list holds an ID that
   * breaks CONTRACT 2.2 (no Alma record has such an ID, and it is never sent to
   * Alma): that one list comes from Alma's list calls, the row still serves the others.
   */
  ids: Record<Kind, string[] | undefined>
}

/**
 * A users row, or undefined when it is missing or unusable: of another user,
 * or with attributes of unexpected types (CONTRACT 4: a cache miss). ID lists
 * may be lists or string sets; an absent list is an empty one.
 */
export function readCachedUser (row: unknown, userID: string, now: number): CachedUser | undefined {
  if (!isJsonObject(row)) return undefined
  if (row[USER_KEY_FIELD] !== userCacheKey(userID)) return undefined
  const expiry = validityNumber(row[USER_VALIDITY_FIELD])
  if (expiry === undefined) return undefined
  const ids = {} as Record<Kind, string[] | undefined>
  for (const kind of KINDS) {
    const listed = row[KIND_SPECS[kind].userIdsField]
    const values = listed === undefined ? [] : listed instanceof Set ? [...listed] : listed
    if (!Array.isArray(values) || !values.every((id) => typeof id === 'string')) return undefined
    ids[kind] = values.every(isItemID) ? [...new Set(values)] : undefined
  }
  return { valid: expiry >= now, ids }
}
