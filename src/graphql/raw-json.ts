import { randomUUID } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';

/** The texts of the RawJson values met by the JSON.stringify running now (it is synchronous). */
let splicing: { nonce: string; texts: string[] } | undefined;

/**
 * A JSON value kept as the text it was stored as: an event's `data`, sliced from its stored
 * payload without parsing. A JSON answer splices the text in as it is (see
 * `stringifyWithRawJson`), so reading 20 events of 256 KiB no longer parses 5 MiB into
 * objects only to serialise them again, and leaves 5 MiB less garbage behind. Any other
 * serialiser (a subscription's message) meets `toJSON` and gets the parsed value.
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

/** Answers of queries and mutations are written with the RawJson texts spliced in. */
const withSplicing = (one: object) => ({ ...one, stringify: stringifyWithRawJson });

export function useRawJsonAnswers(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result)) setResult(result.map(withSplicing));
      else if (result && typeof result === 'object' && !(Symbol.asyncIterator in result))
        setResult(withSplicing(result));
    },
  };
}
