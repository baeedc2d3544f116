import { useQuery } from '@urql/preact';
import { useMemo } from 'preact/hooks';
import { formatTime } from '../format.js';
import { type WebhookBacklog, WebhookBacklogs } from '../overview/stats.js';

/** Each webhook's backlog (deliveries waiting), by id; `available` is false until it is read. */
export function useBacklogs(ids: string[]): { backlogs: Map<string, WebhookBacklog>; available: boolean } {
  const key = ids.join(',');
  const variables = useMemo(() => ({ ids: key ? key.split(',') : [] }), [key]);
  const context = useMemo(() => ({ additionalTypenames: ['Delivery'] }), []);
  const [{ data }] = useQuery({ query: WebhookBacklogs, variables, pause: ids.length === 0, context });
  const backlogs = new Map<string, WebhookBacklog>();
  for (const node of data?.nodes ?? []) if (node && 'backlog' in node) backlogs.set(node.id, node.backlog);
  return { backlogs, available: data !== undefined };
}

export function describeBacklog(backlog: WebhookBacklog | undefined): string {
  if (!backlog) return '—';
  if (backlog.pending === 0) return 'None waiting';
  return `${backlog.pending} waiting, oldest since ${formatTime(backlog.oldestPendingAt)}`;
}
