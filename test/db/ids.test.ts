import { describe, expect, it } from 'vitest';
import { BASE62, base62Time, ID_PREFIX, ID_TIME_CHARS, type IdKind, isId, newId } from '../../src/lib/ids.js';
import { createTestApp } from '../support/app.js';
import { conversationEnded, PUBLISH, REGISTER, validWebhook } from '../support/operations.js';

/** The milliseconds an id's time characters hold. */
const timeOf = (id: string, prefix: string) =>
  [...id.slice(prefix.length, prefix.length + ID_TIME_CHARS)].reduce((ms, c) => ms * 62 + BASE62.indexOf(c), 0);

describe('ids', () => {
  it('keep the contract shape (prefix + 16 base62) and lead with their creation time in milliseconds', () => {
    const at = Date.UTC(2026, 10, 27, 18, 0, 0, 123);
    for (const kind of Object.keys(ID_PREFIX) as IdKind[]) {
      const id = newId(kind, at);
      expect(id).toMatch(new RegExp(`^${ID_PREFIX[kind]}[0-9A-Za-z]{16}$`));
      expect(isId(kind, id)).toBe(true);
      expect(timeOf(id, ID_PREFIX[kind])).toBe(at);
    }
    expect(timeOf(newId('delivery'), 'dlv_')).toBeLessThanOrEqual(Date.now());
    // 62^7 ms is 2081: the digits do not wrap before then.
    expect(base62Time(Date.UTC(2080, 0, 1))).not.toBe('0000000');
    expect(base62Time(0)).toBe('0000000');
  });

  it('sort by creation time across milliseconds, carries included, and never repeat within one', () => {
    const sorted = [
      0,
      61,
      62,
      3843,
      3844,
      62 ** 3 - 1,
      62 ** 3,
      62 ** 6 - 1,
      62 ** 6,
      Date.UTC(2026, 0, 1),
      Date.UTC(2026, 0, 1) + 1,
    ];
    // Ids of each instant compare below every id of the next (plain code-unit order, as the C collation).
    for (let i = 1; i < sorted.length; i++) {
      const earlier = Array.from({ length: 20 }, () => newId('delivery', sorted[i - 1]));
      const later = Array.from({ length: 20 }, () => newId('delivery', sorted[i]));
      for (const a of earlier) for (const b of later) expect(a < b).toBe(true);
    }
    const same = new Set(Array.from({ length: 100_000 }, () => newId('event', 1_800_000_000_000)));
    expect(same.size).toBe(100_000);
  });

  it('are made the same way inside statements (random_id): the transaction start, then random characters, inlined', async () => {
    const app = await createTestApp();
    const rows = await app.sql<{ id: string; ms: string }[]>`
      select random_id('dlv_') as id, floor(date_part('epoch', now()) * 1000)::int8 as ms from generate_series(1, 20000)`;
    const ms = Number(rows[0]?.ms);
    expect(new Set(rows.map((r) => r.id)).size).toBe(20_000);
    for (const { id } of rows) {
      expect(isId('delivery', id)).toBe(true);
      expect(timeOf(id, 'dlv_')).toBe(ms);
    }
    // The random part varies in every position.
    for (let i = ID_TIME_CHARS; i < 16; i++) expect(new Set(rows.map((r) => r.id[4 + i])).size).toBeGreaterThan(50);
    await app.sql`select pg_sleep(0.01)`;
    const [next] = await app.sql<{ id: string }[]>`select random_id('dlv_') as id`;
    for (const { id } of rows) expect(id < (next?.id as string)).toBe(true);
    // One expression PostgreSQL inlines: no function call per delivery in a fan-out.
    const plan = await app.sql<{ line: string }[]>`explain verbose select random_id('dlv_') from generate_series(1, 2)`;
    const text = plan.map((r) => Object.values(r)[0]).join('\n');
    expect(text).toContain('substr');
    expect(text).not.toContain('random_id');
  });

  it('of published deliveries carry their created_at, and of webhooks and events their creation', async () => {
    const app = await createTestApp();
    const { apiKey } = await app.newWorkspace();
    const before = Date.now();
    for (let i = 0; i < 3; i++)
      await app.graphql(REGISTER, { apiKey, variables: { input: validWebhook({ agentId: 'times' }) } });
    const res = await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('times') } });
    const eventId = res.data?.publishEvent.id as string;
    const after = Date.now();
    expect(timeOf(eventId, 'evt_')).toBeGreaterThanOrEqual(before);
    expect(timeOf(eventId, 'evt_')).toBeLessThanOrEqual(after);
    const deliveries = await app.sql<{ id: string; created: string }[]>`
      select id, floor(date_part('epoch', created_at) * 1000)::int8 as created from deliveries where event_id = ${eventId}`;
    expect(deliveries).toHaveLength(3);
    for (const d of deliveries) expect(timeOf(d.id, 'dlv_')).toBe(Number(d.created));
    const webhooks = await app.sql<{ id: string }[]>`select id from webhooks where agent_id = 'times'`;
    for (const w of webhooks) expect(timeOf(w.id, 'wh_')).toBeGreaterThanOrEqual(before);
  });
});
