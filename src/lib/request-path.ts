/**
 * The path of a request target as Node received it, without its query: no URL is parsed,
 * so a target Node accepts but `new URL` refuses (`http://[`) cannot throw.
 */
export function requestPath(target = '/'): string {
  const query = target.indexOf('?');
  return query === -1 ? target : target.slice(0, query);
}
