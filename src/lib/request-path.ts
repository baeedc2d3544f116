import type { RequestListener } from 'node:http';

/**
 * The path of a request target as Node received it, without its query: no URL is parsed,
 * so a target Node accepts but `new URL` refuses (`http://[`) cannot throw.
 */
export function requestPath(target = '/'): string {
  const query = target.indexOf('?');
  return query === -1 ? target : target.slice(0, query);
}

const BAD_URL = JSON.stringify({
  errors: [
    { message: 'The Host header and the request target do not make a URL', extensions: { code: 'BAD_REQUEST' } },
  ],
});

/**
 * `handler` for requests whose URL can be built: the Fetch adapter in front of Yoga builds
 * `http://{Host}{target}` and answers one that is no URL (a Host of `[` or `a b`) with its
 * own stack trace. Such a request is answered 400 here instead.
 */
export function withParsableUrl(handler: RequestListener): RequestListener {
  return (req, res) => {
    if (URL.canParse(`http://${req.headers.host || 'localhost'}${req.url || '/'}`)) return handler(req, res);
    res.writeHead(400, { 'content-type': 'application/json; charset=utf-8', connection: 'close' }).end(BAD_URL);
  };
}
