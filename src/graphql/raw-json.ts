import { randomUUID } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';

/** The texts of the RawJson values met by the JSON.stringify running now (it is synchronous). */
let splicing: { nonce: string; texts: string[] } | undefined;

/**
 * A JSON value kept as the text it was stored as: an event's `data`, sliced from its stored
 * payload without parsing. A JSON answer splices the text in as it is (see
 * `stringifyWithRawJson`), so reading 20 events of 256 KiB no longer parses 5 MiB into
 * objects only to serialise them again, and leaves 5 MiB less garbage behind. Any other
 * serialiser meets `toJSON` and gets the parsed value.
 */
export class RawJson {
  constructor(readonly text: string) {}

  toJSON(): unknown {
    if (!splicing) return JSON.parse(this.text);
    splicing.nonce ||= randomUUID();
    splicing.texts.push(this.text);
    return `\u0000${splicing.nonce}:${splicing.texts.length - 1}`;
  }
}

/**
 * JSON.stringify, with each RawJson's text in its place. Each is first written as a
 * placeholder string (a NUL, a nonce unique to this call, its index), which no other value
 * can spell: the nonce is unguessable, and JSON.stringify writes NUL as `\u0000`, which
 * the placeholder's quoted form then begins with.
 */
export function stringifyWithRawJson(value: unknown): string {
  const call = { nonce: '', texts: [] as string[] };
  splicing = call;
  let json: string;
  try {
    json = JSON.stringify(value);
  } finally {
    splicing = undefined;
  }
  return call.texts.length === 0 ? json : spliceRaw(json, `"\\u0000${call.nonce}:`, call.texts);
}

function spliceRaw(json: string, opening: string, texts: string[]): string {
  const parts: string[] = [];
  let from = 0;
  for (let at = json.indexOf(opening); at !== -1; at = json.indexOf(opening, from)) {
    const close = json.indexOf('"', at + opening.length);
    parts.push(json.slice(from, at), texts[Number(json.slice(at + opening.length, close))] as string);
    from = close + 1;
  }
  parts.push(json.slice(from));
  return parts.join('');
}

/**
 * For answers a library serialises itself (graphql-sse writes each message with
 * JSON.stringify): `hold` writes an answer here, RawJson texts spliced in, and hands the
 * library a stand-in it writes as a short string; `restore` puts the text back in place of
 * the stand-in in the bytes the library wrote, one message per chunk. The library never
 * meets a RawJson, so no event's data is parsed only to be written again.
 */
export function createStandIns() {
  const nonce = randomUUID();
  const opening = Buffer.from(`"\\u0000${nonce}:`);
  const held = new Map<number, Buffer>();
  let next = 0;
  return {
    /** The answer written out, and what to hand the library in its place. */
    hold(answer: unknown): { bytes: Buffer; standIn: { toJSON(): string } } {
      const bytes = Buffer.from(stringifyWithRawJson(answer));
      const n = next++;
      held.set(n, bytes);
      return { bytes, standIn: { toJSON: () => `\u0000${nonce}:${n}` } };
    },
    /** `chunk` with the held answer in place of its stand-in, if it has one. */
    restore(chunk: Uint8Array): Uint8Array {
      if (held.size === 0) return chunk;
      const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const at = bytes.indexOf(opening);
      if (at === -1) return chunk;
      const close = bytes.indexOf('"', at + opening.length);
      const n = Number(bytes.subarray(at + opening.length, close).toString());
      const answer = held.get(n);
      if (!answer) return chunk;
      held.delete(n);
      return Buffer.concat([bytes.subarray(0, at), answer, bytes.subarray(close + 1)]);
    },
  };
}

/** Answers of queries and mutations are written with the RawJson texts spliced in. */
const withSplicing = <T extends object>(one: T) => ({ ...one, stringify: stringifyWithRawJson });

export function useRawJsonAnswers(): Plugin {
  return {
    // Each message of a subscription too (Yoga's server-sent events write it with `stringify`).
    onSubscribe: () => ({
      onSubscribeResult: () => ({ onNext: ({ result, setResult }) => setResult(withSplicing(result)) }),
    }),
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result)) setResult(result.map(withSplicing));
      else if (result && typeof result === 'object' && !(Symbol.asyncIterator in result))
        setResult(withSplicing(result));
    },
  };
}
