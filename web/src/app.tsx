import { Provider, useQuery } from '@urql/preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { createClient } from './client.js';
import { Workspace } from './operations.js';
import { BASE, navigate, onLinkClick, type Route, useRoute } from './router.js';
import { ApiKeysScreen } from './screens/api-keys.js';
import { DeliveriesScreen } from './screens/deliveries.js';
import { DeliveryScreen } from './screens/delivery.js';
import { EventTypesScreen } from './screens/event-types.js';
import { OverviewScreen } from './screens/overview.js';
import { SignInScreen } from './screens/sign-in.js';
import { WebhookScreen } from './screens/webhook.js';
import { WebhooksScreen } from './screens/webhooks.js';
import { can, getSession, onSessionChange, restoreSession, type Session, SignInError, signOut } from './session.js';

export function App() {
  const [session, setSession] = useState<Session | null>(getSession());
  const [restoring, setRestoring] = useState(true);
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    const stop = onSessionChange((next, reason) => {
      setSession(next);
      setNotice(reason ?? null);
    });
    restoreSession()
      .then(() => {
        // A portal link lands on /dashboard/portal: show the overview under its own address.
        if (location.pathname.startsWith(`${BASE}/portal`)) navigate(BASE, { replace: true });
      })
      .catch((error: unknown) => setNotice(error instanceof SignInError ? error.message : 'Signing in failed.'))
      .finally(() => setRestoring(false));
    return stop;
  }, []);
  // A new client per session: nothing one session read is cached for the next.
  const client = useMemo(() => createClient(), [session]);

  if (restoring) return <p role="status">Signing in…</p>;
  if (!session) return <SignInScreen notice={notice} />;
  return (
    <Provider value={client}>
      <SignedIn />
    </Provider>
  );
}

const NAV: { href: string; label: string; routes: Route['name'][]; shown?: () => boolean }[] = [
  { href: BASE, label: 'Overview', routes: ['overview'] },
  { href: `${BASE}/webhooks`, label: 'Webhooks', routes: ['webhooks', 'webhook'] },
  { href: `${BASE}/deliveries`, label: 'Deliveries', routes: ['deliveries', 'delivery'] },
  { href: `${BASE}/event-types`, label: 'Event types', routes: ['event-types'] },
  { href: `${BASE}/api-keys`, label: 'API keys', routes: ['api-keys'], shown: () => can('MANAGE_API_KEYS') },
];

function SignedIn() {
  const route = useRoute();
  const [{ data }] = useQuery({ query: Workspace });
  const routeKey = `${location.pathname}`;
  useEffect(() => {
    document.addEventListener('click', onLinkClick);
    return () => document.removeEventListener('click', onLinkClick);
  }, []);
  useEffect(() => {
    // A new page: move focus to its heading, so keyboard and screen reader users start there.
    const heading = document.querySelector<HTMLElement>('main h1');
    heading?.focus();
    document.title = `${heading?.textContent ?? 'Dashboard'} · Conversation webhooks`;
  }, [routeKey]);

  return (
    <div class="layout">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <span class="brand">Conversation webhooks</span>
        {data && <span class="workspace">{data.workspace.name}</span>}
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <nav aria-label="Dashboard">
        <ul>
          {NAV.filter((item) => item.shown?.() ?? true).map((item) => (
            <li key={item.href}>
              <a href={item.href} aria-current={item.routes.includes(route.name) ? 'page' : undefined}>
                {item.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main">
        <Screen route={route} />
      </main>
    </div>
  );
}

function Screen({ route }: { route: Route }) {
  switch (route.name) {
    case 'overview':
      return <OverviewScreen />;
    case 'webhooks':
      return <WebhooksScreen />;
    case 'webhook':
      return <WebhookScreen id={route.id} />;
    case 'deliveries':
      return <DeliveriesScreen query={route.query} />;
    case 'delivery':
      return <DeliveryScreen id={route.id} />;
    case 'event-types':
      return <EventTypesScreen />;
    case 'api-keys':
      return can('MANAGE_API_KEYS') ? <ApiKeysScreen /> : <NotFound />;
    case 'not-found':
      return <NotFound />;
  }
}

function NotFound() {
  return (
    <>
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        There is nothing at this address. Go to the <a href={BASE}>Overview</a>.
      </p>
    </>
  );
}
