import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

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

export function newId(kind: IdKind): string {
  return ID_PREFIX[kind] + randomBase62(16);
}

/** True when `id` has the shape of an id of this kind; lets us answer "not found" without a query. */
export function isId(kind: IdKind, id: string): boolean {
  return (
    id.length === ID_PREFIX[kind].length + 16 &&
    id.startsWith(ID_PREFIX[kind]) &&
    /^[0-9A-Za-z]+$/.test(id.slice(ID_PREFIX[kind].length))
  );
}
