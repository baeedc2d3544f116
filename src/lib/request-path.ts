import type { RequestListener } from 'node:http';

/**
 * The path of a request target as Node received it, without its query: no URL is parsed,
 * so a target Node accepts but `new URL` refuses (`http://[`) cannot throw.
 */
export function requestPath(target = '/'): string {
  const query = target.indexOf('?');
  return query === -1 ? target : target.slice(0, query);
}

const refusal = (message: string) => JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
const BAD_URL = refusal('The Host header and the request target do not make a URL');
const NOT_NORMAL = refusal('The request path must be in normal form (no dot segments, fragment or backslash)');

// What a Host header may not hold: anything that would make part of it a path, a query, a fragment or credentials.
const NOT_A_HOST = /[/?#@\\\s]/;
// An absolute-form target: scheme, authority (checked like a Host), and the origin-form rest.
const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)(.*)$/is;

/**
 * `handler` for requests whose URL is what the server counts. The Fetch adapter in front
 * of Yoga builds `http://{Host}{target}` and answers one that is no URL (a Host of `[`)
 * with its own stack trace; and it resolves `/./graphql` or `/x/../graphql` (or a Host of
 * `x/graphql#`) to `/graphql`, which Yoga serves, while the door in front, reading the
 * target as sent, saw another path and let it past every per-key and per-address limit.
 * Both are answered 400 here: the path everyone reads is the one that was sent.
 */
export function withParsableUrl(handler: RequestListener): RequestListener {
  return (req, res) => {
    const absolute = ABSOLUTE_FORM.exec(req.url ?? '');
    if (absolute) {
      // `GET http://host/graphql`, which HTTP/1.1 servers must accept: its authority is the
      // Host (RFC 9112 §3.2.2), and the rest is the target every later step reads.
      req.headers.host = absolute[1];
      req.url = absolute[2]?.startsWith('/') ? absolute[2] : `/${absolute[2] ?? ''}`;
    }
    const host = absolute ? (absolute[1] as string) : req.headers.host || 'localhost';
    const target = req.url || '/';
    const url = NOT_A_HOST.test(host) ? null : parseUrl(`http://${host}${target}`);
    if (url && url.pathname === requestPath(target)) return handler(req, res);
    res
      .writeHead(400, { 'content-type': 'application/json; charset=utf-8', connection: 'close' })
      .end(url ? NOT_NORMAL : BAD_URL);
  };
}

/** `URL.parse` (Node 22): null for what is no URL. */
function parseUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}
