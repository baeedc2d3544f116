/**
 * A webhook's excludedFields, removed from `data` in the body it receives and is signed.
 * The stored event keeps them; the body is cut here, when the attempt is prepared.
 */

/**
 * The payload with each dotted path removed from its `data` (a path through anything
 * but objects, or to nothing, removes nothing). Key order is kept; without paths, the
 * payload is returned as it is, byte for byte.
 */
export function withoutFields(payload: string, paths: readonly string[]): string {
  if (paths.length === 0) return payload;
  const body = JSON.parse(payload) as { data?: unknown };
  for (const path of paths) removePath(body.data, path.split('.'));
  return JSON.stringify(body);
}

function removePath(value: unknown, keys: string[]): void {
  let node = value;
  for (const key of keys.slice(0, -1)) {
    if (!isObject(node) || !Object.hasOwn(node, key)) return;
    node = node[key];
  }
  const last = keys.at(-1) as string;
  if (isObject(node)) delete node[last];
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The cache's default bound: the bodies it holds, in UTF-16 code units (about bytes, for JSON). */
const DEFAULT_MAX_CHARACTERS = 32 * 1024 * 1024;

/**
 * withoutFields, once per (event, set of paths): a fan-out to many webhooks that exclude
 * the same fields parses and serialises the event once, not once per webhook (retries hit
 * it too). The oldest bodies go first when it holds more than `maxCharacters`.
 */
export function createPayloadShapes(maxCharacters = DEFAULT_MAX_CHARACTERS) {
  const cache = new Map<string, string>();
  let held = 0;
  return (eventId: string, payload: string, paths: readonly string[]): string => {
    if (paths.length === 0) return payload;
    const key = `${eventId}\n${[...paths].sort().join('\n')}`;
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    const body = withoutFields(payload, paths);
    cache.set(key, body);
    held += body.length;
    for (const [oldest, oldBody] of cache) {
      if (held <= maxCharacters) break;
      cache.delete(oldest);
      held -= oldBody.length;
    }
    return body;
  };
}

export type PayloadShapes = ReturnType<typeof createPayloadShapes>;
