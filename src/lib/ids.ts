import { randomBytes } from 'node:crypto';

export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Uniformly random base62 text: bytes ≥ 248 are dropped so every character is equally likely. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

export const ID_PREFIX = {
  workspace: 'org_',
  webhook: 'wh_',
  event: 'evt_',
  delivery: 'dlv_',
  apiKey: 'key_',
} as const;

export type IdKind = keyof typeof ID_PREFIX;

/** Characters of an id's 16 that carry its creation time: milliseconds since 1970 in base62 (62^7 ms lasts until 2081). */
export const ID_TIME_CHARS = 7;

/**
 * `ms` as ID_TIME_CHARS base62 digits, most significant first, so that later times sort
 * after earlier ones (the alphabet is in ASCII order).
 */
export function base62Time(ms: number): string {
  let rest = Math.floor(ms);
  let out = '';
  for (let i = 0; i < ID_TIME_CHARS; i++) {
    out = BASE62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

/**
 * The prefix, then 16 base62 characters: 7 of the creation time (milliseconds), 9 random
 * (53 bits a millisecond). Not for ordering by anyone (the contract promises only the
 * shape): the time in front makes rows created together neighbours in every index keyed
 * by id, so inserts land at the right edge of the 10-million-row indexes instead of on
 * random pages, and expired rows lie together for retention. migrations/0014 makes the
 * same ids inside statements (random_id).
 */
export function newId(kind: IdKind, now = Date.now()): string {
  return ID_PREFIX[kind] + base62Time(now) + randomBase62(16 - ID_TIME_CHARS);
}

/** True when `id` has the shape of an id of this kind; lets us answer "not found" without a query. */
export function isId(kind: IdKind, id: string): boolean {
  return (
    id.length === ID_PREFIX[kind].length + 16 &&
    id.startsWith(ID_PREFIX[kind]) &&
    /^[0-9A-Za-z]+$/.test(id.slice(ID_PREFIX[kind].length))
  );
}
