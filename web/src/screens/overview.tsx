import { useQuery } from '@urql/preact';
import { useMemo, useState } from 'preact/hooks';
import { formatCount, HEALTH_WORDS } from '../format.js';
import type { StatsInterval } from '../gql/graphql.js';
import { WebhookList } from '../operations.js';
import { DeliveryStats } from '../overview/stats.js';
import { DeliveriesChart, LatencyChart } from '../ui/charts.js';
import { ErrorState, Loading } from '../ui/states.js';

const PERIODS: { label: string; ms: number; interval: StatsInterval }[] = [
  { label: 'Last hour', ms: 3_600_000, interval: 'MINUTE' },
  { label: 'Last 24 hours', ms: 86_400_000, interval: 'HOUR' },
  { label: 'Last 7 days', ms: 7 * 86_400_000, interval: 'DAY' },
];

export function OverviewScreen() {
  const [periodIndex, setPeriodIndex] = useState(1);
  const period = PERIODS[periodIndex] ?? PERIODS[1];
  return (
    <>
      <h1 tabIndex={-1}>Overview</h1>
      <fieldset class="periods">
        <legend>Period</legend>
        {PERIODS.map((choice, i) => (
          <label key={choice.label}>
            <input type="radio" name="period" checked={i === periodIndex} onChange={() => setPeriodIndex(i)} />
            {choice.label}
          </label>
        ))}
      </fieldset>
      {period && <Statistics ms={period.ms} interval={period.interval} />}
      <WebhookHealth />
    </>
  );
}

function Statistics({ ms, interval }: { ms: number; interval: StatsInterval }) {
  // Rounded to the minute, so re-renders ask for the same period (and hit urql's cache).
  const since = useMemo(() => new Date(Math.floor((Date.now() - ms) / 60_000) * 60_000).toISOString(), [ms]);
  const [{ data, error, fetching }, refetch] = useQuery({ query: DeliveryStats, variables: { since, interval } });
  if (error) return <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />;
  if (!data && fetching) return <Loading what="statistics" />;
  const stats = data?.deliveryStats;
  if (!stats) return null;
  const rate = stats.successRate === null ? '—' : `${(stats.successRate * 100).toFixed(1)} %`;
  return (
    <section aria-labelledby="stats-heading">
      <h2 id="stats-heading">Deliveries</h2>
      <div class="figures">
        <figure>
          <figcaption>Success rate</figcaption>
          <p class="figure">{rate}</p>
        </figure>
        <figure>
          <figcaption>Attempts</figcaption>
          <p class="figure">{stats.attempts.toLocaleString('en')}</p>
        </figure>
        <figure>
          <figcaption>Failed attempts</figcaption>
          <p class="figure">{stats.failed.toLocaleString('en')}</p>
        </figure>
        <figure>
          <figcaption>Latency p50 / p95</figcaption>
          <p class="figure">
            {stats.p50Ms ?? '—'} / {stats.p95Ms ?? '—'} ms
          </p>
        </figure>
      </div>
      {stats.attempts === 0 && (
        <p class="empty">No delivery attempts in this period. Send a test event from a webhook's page to see one.</p>
      )}
      <div class="charts">
        <div>
          <h3>Deliveries over time</h3>
          <DeliveriesChart buckets={stats.buckets} label="Deliveries over time" />
          <p class="legend">
            <span class="key-succeeded">Succeeded</span> <span class="key-failed">Failed</span>
          </p>
        </div>
        <div>
          <h3>Latency</h3>
          <LatencyChart buckets={stats.buckets} label="Latency" />
          <p class="legend">
            <span class="key-p50">p50</span> <span class="key-p95">p95</span>
          </p>
        </div>
      </div>
    </section>
  );
}

/** From what every server has: each webhook's health, counted. */
function WebhookHealth() {
  const [{ data, error, fetching }, refetch] = useQuery({ query: WebhookList, variables: { first: 100 } });
  if (error) return <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />;
  if (!data && fetching) return <Loading what="webhooks" />;
  if (!data) return null;
  const webhooks = data.webhooks.edges.map((edge) => edge.node);
  const paused = webhooks.filter((w) => !w.active).length;
  const counts = (['HEALTHY', 'DEGRADED', 'FAILING'] as const).map((state) => ({
    state,
    count: webhooks.filter((w) => w.active && w.health.state === state).length,
  }));
  return (
    <section aria-labelledby="health-heading">
      <h2 id="health-heading">Webhooks</h2>
      {webhooks.length === 0 ? (
        <p class="empty">
          No webhooks yet. <a href="/dashboard/webhooks">Register one</a> to start receiving events.
        </p>
      ) : (
        <ul class="health-counts">
          {counts.map(({ state, count }) => (
            <li key={state}>
              <span class={`health health-${state.toLowerCase()}`}>{HEALTH_WORDS[state]}</span> {count}
            </li>
          ))}
          <li>
            <span class="health health-paused">Paused</span> {paused}
          </li>
          <li class="muted">
            of {formatCount(data.webhooks.boundedCount)} in all
            {webhooks.length < data.webhooks.boundedCount.count ? ` (first ${webhooks.length} counted)` : ''}
          </li>
        </ul>
      )}
    </section>
  );
}
