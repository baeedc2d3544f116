import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPE_INFO, README_MARKERS, renderEventTypes } from '../../src/events/catalogue.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { conversationEnded, PUBLISH } from '../support/operations.js';

let app: TestApp;
let apiKey: string;
beforeAll(async () => {
  app = await createTestApp();
  ({ apiKey } = await app.newWorkspace());
});

const EVENT_TYPES = '{ eventTypes { name enumValue description example } }';

describe('the event catalogue', () => {
  it('eventTypes lists every event type once, each WebhookEvent value among them, with a whole example payload', async () => {
    const res = await app.graphql(EVENT_TYPES, { apiKey });
    expect(res.errors).toBeUndefined();
    const types = res.data?.eventTypes as { name: string; enumValue: string | null; example: any }[];
    expect(types).toEqual(EVENT_TYPE_INFO.map((t) => ({ ...t, example: JSON.parse(t.example) as unknown })));
    expect(types.map((t) => t.name)).toEqual([
      'conversation_started',
      'conversation_ended',
      'conversation_analysed',
      'webhook.disabled',
      'delivery.failed',
      'webhook.test',
    ]);

    const introspection = await app.graphql('{ __type(name: "WebhookEvent") { enumValues { name } } }');
    const enumValues = introspection.data?.__type.enumValues.map((v: { name: string }) => v.name);
    expect(
      types
        .map((t) => t.enumValue)
        .filter(Boolean)
        .sort(),
    ).toEqual([...enumValues].sort());
    for (const t of types) expect(t.example.type).toBe(t.name);
  });

  it('examples have the shape of what receivers get: the same keys, in the same order, as a published event', async () => {
    const published = await app.graphql(PUBLISH, { apiKey, variables: { input: conversationEnded('catalogue') } });
    const [row] = await app.sql`select payload from events where id = ${published.data?.publishEvent.id}`;
    const real = Object.keys(JSON.parse(row?.payload as string));
    for (const t of EVENT_TYPE_INFO) expect(Object.keys(JSON.parse(t.example))).toEqual(real);
  });

  it('docs/receiving.md shows the same list (`npm run docs:events` writes it)', () => {
    const readme = fs.readFileSync(new URL('../../docs/receiving.md', import.meta.url), 'utf8');
    const start = readme.indexOf(README_MARKERS.start);
    const end = readme.indexOf(README_MARKERS.end);
    expect(start).toBeGreaterThan(-1);
    expect(readme.slice(start, end + README_MARKERS.end.length)).toBe(renderEventTypes());
    for (const t of EVENT_TYPE_INFO) expect(readme).toContain(`| \`${t.name}\` |`);
  });
});
