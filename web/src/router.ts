import { useEffect, useState } from 'preact/hooks';

/** The dashboard's pages: paths below /dashboard, routed here (the server answers index.html for all of them). */
export type Route =
  | { name: 'overview' }
  | { name: 'webhooks' }
  | { name: 'webhook'; id: string }
  | { name: 'deliveries'; query: URLSearchParams }
  | { name: 'delivery'; id: string }
  | { name: 'event-types' }
  | { name: 'api-keys' }
  | { name: 'not-found' };

export const BASE = '/dashboard';

export function parseRoute(pathname: string, search: string): Route {
  const parts = pathname
    .replace(/^\/dashboard\/?/, '')
    .split('/')
    .filter(Boolean)
    .map(decodeURIComponent);
  const [first, second] = parts;
  if (parts.length === 0 || (first === 'portal' && parts.length === 1)) return { name: 'overview' };
  if (first === 'webhooks') return second ? { name: 'webhook', id: second } : { name: 'webhooks' };
  if (first === 'deliveries') {
    return second ? { name: 'delivery', id: second } : { name: 'deliveries', query: new URLSearchParams(search) };
  }
  if (first === 'event-types' && !second) return { name: 'event-types' };
  if (first === 'api-keys' && !second) return { name: 'api-keys' };
  return { name: 'not-found' };
}

const listeners = new Set<() => void>();

export function navigate(href: string, { replace = false } = {}): void {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  for (const listener of listeners) listener();
}

/** The current route; re-renders on navigate() and on the browser's back and forward. */
export function useRoute(): Route {
  const read = () => parseRoute(location.pathname, location.search);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const update = () => setRoute(read());
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

/** Follows same-page links without reloading; a modified click (new tab) stays the browser's. */
export function onLinkClick(event: MouseEvent): void {
  const anchor = (event.target as Element | null)?.closest('a');
  if (!anchor || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || anchor.target) return;
  const url = new URL(anchor.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(BASE)) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
}
