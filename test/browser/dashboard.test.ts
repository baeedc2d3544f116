import fs from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type Browser, chromium, type Frame, type FrameLocator, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { ensureDashboardBuilt } from '../support/dashboard-build.js';
import { PUBLISH, REGISTER } from '../support/operations.js';
import { ROOT } from '../support/processes.js';
import { createReceiver } from '../support/receiver.js';

/**
 * The dashboard as a person uses it: Debian's Chromium, headless, driven by
 * playwright-core, against the real server (built page, GraphQL, SSE) and real receivers
 * on 127.0.0.1. Elements are found by their accessible names (CONTRACT.md section 8).
 */
const IMAGES = path.join(ROOT, 'docs/images');
const AXE_SOURCE = await fs.readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
];

let browser: Browser;
let app: TestApp;
let dashboard: string;
let apiKey: string;
/** A second server (DASHBOARD_FRAME_ANCESTORS = parentOrigin), for portal sessions and a busy workspace, and the page that frames it. */
let portal: TestApp;
let portalApi: string;
let portalKey: string;
let parent: Server;
let parentOrigin: string;
/** What the platform's page frames: set by each test. */
let framed = '';
/** The failing receiver answers 500 until a test lets it succeed. */
let failingReceiverOk = false;

beforeAll(async () => {
  const [build] = await Promise.all([
    ensureDashboardBuilt(),
    chromium
      .launch({
        executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
        args: CHROMIUM_ARGS,
      })
      .then((launched) => {
        browser = launched;
      }),
  ]);
  // One retry 200 ms after a failure: a failing delivery is FAILED within a second.
  app = await createTestApp({ DELIVERY_RETRY_SCHEDULE: '200ms' }, { dashboardDirectory: build });
  app.startWorker();
  dashboard = (await app.listen()).replace(/\/graphql$/, '/dashboard');
  ({ apiKey } = await app.newWorkspace('Acme voice'));
  await fs.mkdir(IMAGES, { recursive: true });

  // A platform's own page, on another site, and a server that lets it frame the dashboard.
  parent = createServer((_request, response) => {
    response.setHeader('content-type', 'text/html; charset=utf-8');
    const src = framed.replaceAll('&', '&amp;').replaceAll('"', '&quot;');
    response.end(
      `<!doctype html><html lang="en"><title>Platform</title><h1>Your calls</h1><iframe src="${src}" title="Webhooks" width="1200" height="700"></iframe></html>`,
    );
  });
  await new Promise<void>((resolve) => parent.listen(0, 'localhost', resolve));
  parentOrigin = `http://localhost:${(parent.address() as AddressInfo).port}`;
  portal = await createTestApp({ DASHBOARD_FRAME_ANCESTORS: parentOrigin }, { dashboardDirectory: build });
  portalApi = await portal.listen();
  ({ apiKey: portalKey } = await portal.newWorkspace('Platform customer'));
}, 120_000);
afterAll(async () => {
  await browser?.close();
  parent?.close();
});

/** A fresh tab; fails the test on any CSP violation or uncaught error in the page. */
async function openDashboard(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
  const problems: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(dashboard);
  return { page, problems };
}

async function signIn(page: Page, key = apiKey) {
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await see(page.getByRole('navigation', { name: 'Dashboard' })).toBeVisible();
  expect(await readableStorage(page)).not.toContain(key);
}

/** Everything a script of the page could read back: the key must be in none of it. */
function readableStorage(page: Page): Promise<string> {
  return page.evaluate(() => {
    const dump = (storage: Storage) => Object.keys(storage).map((name) => `${name}=${storage.getItem(name)}`);
    return [...dump(localStorage), ...dump(sessionStorage), document.cookie].join('\n');
  });
}

/** axe-core in the page: no serious or critical violation. */
async function expectAccessible(page: Page | Frame, screen: string) {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const result = await (window as any).axe.run(document, { resultTypes: ['violations'] });
    return (result.violations as { id: string; impact: string; nodes: { target: string[] }[] }[])
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  expect(violations, screen).toEqual([]);
}

/** What a person sees, polled until it holds (playwright-core has no assertions of its own). */
function see(locator: Locator) {
  const wait = { timeout: 10_000, interval: 100 };
  return {
    toBeVisible: (options: { timeout?: number } = {}) =>
      locator.first().waitFor({ state: 'visible', timeout: options.timeout ?? wait.timeout }),
    toContainText: (text: string, options: { timeout?: number } = {}) =>
      expect.poll(async () => (await locator.allTextContents()).join(' | '), { ...wait, ...options }).toContain(text),
    toBeFocused: () =>
      expect.poll(() => locator.evaluate((el) => el === document.activeElement).catch(() => false), wait).toBe(true),
    toHaveCount: (count: number) => expect.poll(() => locator.count(), wait).toBe(count),
    toHaveValue: (pattern: RegExp) => expect.poll(() => locator.inputValue(), wait).toMatch(pattern),
  };
}

/** A picture for docs/images, without the focus ring a new page puts on its heading. */
async function screenshot(page: Page, file: string) {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.screenshot({ path: path.join(IMAGES, file) });
}

function row(page: Page | Locator | FrameLocator, text: string | RegExp): Locator {
  return page.getByRole('row').filter({ hasText: text });
}

describe('the dashboard in Chromium', () => {
  it('refuses a wrong key with an alert, then signs in with a key and shows every screen without accessibility violations', async () => {
    const { page, problems } = await openDashboard();
    await expectAccessible(page, 'sign-in');
    await page.getByLabel('API key').fill(`chk_${'x'.repeat(40)}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await see(page.getByRole('alert')).toContainText('not accepted');
    await see(page.getByRole('navigation', { name: 'Dashboard' })).toHaveCount(0);

    await signIn(page);
    const nav = page.getByRole('navigation', { name: 'Dashboard' });
    for (const name of ['Overview', 'Webhooks', 'Deliveries', 'Event types', 'API keys']) {
      await see(nav.getByRole('link', { name, exact: true })).toBeVisible();
    }
    await see(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeFocused();
    for (const name of ['Last hour', 'Last 24 hours', 'Last 7 days']) {
      await see(page.getByRole('radio', { name })).toBeVisible();
    }
    await see(page.getByRole('figure', { name: 'Success rate' })).toBeVisible();
    await see(page.getByRole('img', { name: 'Deliveries over time' })).toBeVisible();
    await see(page.getByRole('img', { name: 'Latency' })).toBeVisible();
    await expectAccessible(page, 'overview');

    await nav.getByRole('link', { name: 'Event types' }).click();
    await see(page.getByRole('heading', { level: 1, name: 'Event types' })).toBeFocused();
    const ended = page.getByRole('region', { name: 'conversation_ended' });
    await see(ended).toContainText('"type": "conversation_ended"');
    await see(page.getByRole('heading', { name: 'webhook.test' })).toBeVisible();
    await expectAccessible(page, 'event types');
    expect(problems).toEqual([]);
  }, 60_000);

  it('registers a webhook (secret shown once), sends a test event, and shows deliveries live; a failing one is retried', async () => {
    const { page, problems } = await openDashboard();
    await signIn(page);
    const receiver = await createReceiver();
    await page.getByRole('navigation').getByRole('link', { name: 'Webhooks' }).click();
    await see(page.getByText('No webhooks yet')).toBeVisible();
    await expectAccessible(page, 'webhooks, empty');

    await page.getByRole('button', { name: 'Register webhook' }).click();
    const form = page.getByRole('dialog', { name: 'Register webhook' });
    await form.getByLabel('Name').fill('Call analytics');
    await form.getByLabel('Agent ID').fill('agent-support');
    await form.getByLabel('URL').fill(receiver.url);
    for (const wire of ['conversation_started', 'conversation_ended', 'conversation_analysed', 'delivery.failed']) {
      await see(form.getByRole('checkbox', { name: wire, exact: true })).toBeVisible();
    }
    await form.getByRole('checkbox', { name: 'conversation_ended', exact: true }).check();
    await expectAccessible(page, 'register webhook');
    await form.getByRole('button', { name: 'Register' }).click();
    const shown = page.getByRole('dialog', { name: 'Webhook registered' }).getByLabel('Signing secret');
    const secret = await shown.inputValue();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{44}$/);
    await screenshot(page, 'dashboard-register.png');
    await page.getByRole('button', { name: 'Done' }).click();
    await see(row(page, 'Call analytics')).toContainText('conversation_ended');
    await see(row(page, 'Call analytics')).toContainText('Healthy');
    await screenshot(page, 'dashboard-webhooks.png');

    // The webhook's page: the secret is not there (shown once), the actions are.
    await row(page, 'Call analytics').getByRole('link', { name: 'Call analytics' }).click();
    await see(page.getByRole('heading', { level: 1, name: 'Call analytics' })).toBeFocused();
    expect(await page.content()).not.toContain(secret);
    await see(page.getByRole('term').filter({ hasText: 'Backlog' })).toHaveCount(1);
    await see(page.getByRole('definition').filter({ hasText: 'None waiting' })).toBeVisible();
    for (const name of ['Send test event', 'Pause', 'Rotate secret', 'Edit', 'Delete', 'Recover failed deliveries']) {
      await see(page.getByRole('button', { name, exact: true })).toBeVisible();
    }
    await page.getByRole('button', { name: 'Send test event' }).click();
    await see(row(page, 'webhook.test')).toContainText('Succeeded', { timeout: 15_000 });
    expect(receiver.received.at(-1)?.body).toContain('"type":"webhook.test"');
    await expectAccessible(page, 'webhook page');

    // Deliveries: a delivery published elsewhere appears, and turns Succeeded, without a reload.
    await page.getByRole('navigation').getByRole('link', { name: 'Deliveries' }).click();
    await see(row(page, 'webhook.test')).toContainText('Succeeded');
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    const published = await app.graphql(PUBLISH, {
      apiKey,
      variables: { input: { agentId: 'agent-support', type: 'CONVERSATION_ENDED', data: { conversationId: 'c-1' } } },
    });
    expect(published.errors).toBeUndefined();
    await see(row(page, 'conversation_ended')).toContainText('Succeeded', { timeout: 15_000 });
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);

    // A receiver answering 500: the delivery fails (live), its attempts say why, Retry succeeds.
    const failing = await createReceiver(() => ({ status: failingReceiverOk ? 200 : 500 }));
    const registered = await app.graphql(REGISTER, {
      apiKey,
      variables: {
        input: { name: 'Flaky CRM', agentId: 'agent-crm', url: failing.url, events: ['CONVERSATION_STARTED'] },
      },
    });
    expect(registered.errors).toBeUndefined();
    await app.graphql(PUBLISH, {
      apiKey,
      variables: { input: { agentId: 'agent-crm', type: 'CONVERSATION_STARTED', data: { conversationId: 'c-2' } } },
    });
    const failedRow = row(page, 'Flaky CRM');
    await see(failedRow).toContainText('Failed', { timeout: 15_000 });
    // The count read at load (boundedCount) plus the two that came live.
    await see(page.getByRole('table', { name: '3 deliveries, newest first' })).toBeVisible();
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    await screenshot(page, 'dashboard-deliveries.png');
    await page.getByLabel('Status').selectOption({ label: 'Failed' });
    await see(page.getByRole('row')).toHaveCount(2);
    await see(failedRow).toBeVisible();
    await expectAccessible(page, 'deliveries');

    await failedRow.getByRole('link', { name: /^dlv_/ }).click();
    const attempts = page.getByRole('table', { name: /attempts/ });
    await see(attempts.getByRole('row')).toHaveCount(3);
    await see(attempts).toContainText('500');
    await see(attempts).toContainText('HTTP 500');
    await expectAccessible(page, 'delivery');
    failingReceiverOk = true;
    await page.getByRole('button', { name: 'Retry' }).click();
    await see(page.getByRole('definition').filter({ hasText: 'Succeeded' })).toBeVisible({ timeout: 15_000 });
    await see(attempts.getByRole('row')).toHaveCount(4);
    await screenshot(page, 'dashboard-delivery.png');

    // The Overview counts those attempts from the rollups: 3 succeeded (test event,
    // conversation_ended, the retry) and 2 failed (the 500s).
    await page.getByRole('navigation').getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('radio', { name: 'Last hour' }).check();
    await see(page.getByRole('figure', { name: 'Success rate' })).toContainText('60.0 %');
    await see(page.getByRole('figure', { name: 'Attempts' })).toContainText('5');
    await see(page.getByRole('figure', { name: 'Failed attempts' })).toContainText('2');
    // Drawn from those figures: a visible bar of each outcome, and a latency line. Polled: the
    // figures above may still be the previous period's (the same attempts) while the hour's
    // statistics load, and then no chart is drawn yet.
    for (const bar of ['rect.bar-succeeded', 'rect.bar-failed']) {
      const tallest = async () =>
        Math.max(
          0,
          ...(await page.locator(bar).evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('height'))))),
        );
      await expect.poll(tallest, { message: bar, timeout: 10_000 }).toBeGreaterThan(0);
    }
    expect(await page.locator('polyline.line-p50').getAttribute('points')).toMatch(/\d/);
    await expectAccessible(page, 'overview with data');
    await screenshot(page, 'dashboard-overview.png');
    expect(problems).toEqual([]);
  }, 90_000);

  it("runs a webhook's actions from its page: pause and resume, rotate the secret, edit, recover, delete after a confirmation", async () => {
    const { page, problems } = await openDashboard();
    await signIn(page);
    const receiver = await createReceiver();
    const registered = await app.graphql(REGISTER, {
      apiKey,
      variables: {
        input: {
          name: 'Ops hook',
          agentId: 'agent-ops',
          url: receiver.url,
          events: ['CONVERSATION_ENDED'],
          conditions: [
            { path: 'analysis.sentiment', operator: 'EQ', value: 'negative' },
            { path: 'durationSeconds', operator: 'GTE', value: 30 },
          ],
          excludedFields: ['caller.phoneNumber'],
        },
      },
    });
    const id = registered.data?.registerWebhook.id as string;
    const read = async () =>
      (
        await app.graphql(`query($id: ID!) { webhook(id: $id) { name active excludedFields } }`, {
          apiKey,
          variables: { id },
        })
      ).data?.webhook;
    // A reload keeps the server-side session (GET /dashboard/session): no second sign-in.
    await page.goto(`${dashboard}/webhooks/${id}`);
    await see(page.getByRole('heading', { level: 1, name: 'Ops hook' })).toBeVisible();
    await see(page.getByLabel('API key')).toHaveCount(0);
    // Its conditions and excluded fields, as registered.
    const conditions = page.getByRole('definition').filter({ hasText: 'analysis.sentiment' });
    await see(conditions).toContainText('analysis.sentiment = "negative"');
    await see(conditions).toContainText('durationSeconds ≥ 30');
    await see(page.getByRole('definition').filter({ hasText: 'caller.phoneNumber' })).toBeVisible();
    await expectAccessible(page, 'webhook page with conditions');
    await screenshot(page, 'dashboard-webhook.png');

    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await see(page.getByRole('button', { name: 'Resume', exact: true })).toBeVisible();
    expect(await read()).toMatchObject({ active: false });
    await page.getByRole('button', { name: 'Resume', exact: true }).click();
    await see(page.getByRole('button', { name: 'Pause', exact: true })).toBeVisible();
    expect(await read()).toMatchObject({ active: true });

    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await see(page.getByLabel('New signing secret')).toHaveValue(/^whsec_/);
    const rotated = await page.getByLabel('New signing secret').inputValue();
    expect(rotated).not.toBe(registered.data?.registerWebhook.secret);

    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    const edit = page.getByRole('dialog', { name: 'Edit webhook' });
    await see(edit.getByRole('checkbox', { name: 'conversation_ended', exact: true })).toBeVisible();
    expect(await edit.getByRole('checkbox', { name: 'conversation_ended', exact: true }).isChecked()).toBe(true);
    await see(edit.getByLabel('Excluded fields')).toHaveValue(/^caller\.phoneNumber$/);
    await edit.getByLabel('Name').fill('Ops hook, renamed');
    await edit.getByLabel('Excluded fields').fill('caller.phoneNumber, transcript');
    await edit.getByRole('button', { name: 'Save' }).click();
    await see(page.getByRole('heading', { level: 1, name: 'Ops hook, renamed' })).toBeVisible();
    await see(page.getByRole('definition').filter({ hasText: 'transcript' })).toBeVisible();
    expect(await read()).toMatchObject({
      name: 'Ops hook, renamed',
      excludedFields: ['caller.phoneNumber', 'transcript'],
    });

    await page.getByRole('button', { name: 'Recover failed deliveries' }).click();
    await see(page.getByRole('status').filter({ hasText: 'Recovered' })).toContainText('Recovered 0 failed deliveries');

    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete Ops hook, renamed?' });
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await see(page.getByRole('heading', { level: 1, name: 'Webhooks' })).toBeFocused();
    await see(row(page, 'Ops hook')).toHaveCount(0);
    expect(await read()).toBeNull();
    expect(problems).toEqual([]);
  }, 60_000);

  it('creates an API key, shown once, that works, and revokes it after a confirmation', async () => {
    const { page, problems } = await openDashboard();
    await signIn(page);
    await page.getByRole('navigation').getByRole('link', { name: 'API keys' }).click();
    await see(page.getByRole('heading', { level: 1, name: 'API keys' })).toBeFocused();
    await page.getByRole('button', { name: 'Create API key' }).click();
    const created = await page.getByLabel('New API key').inputValue();
    expect(created).toMatch(/^chk_[0-9A-Za-z]{40}$/);
    expect((await app.graphql('{ workspace { name } }', { apiKey: created })).data?.workspace.name).toBe('Acme voice');
    await expectAccessible(page, 'API keys');
    await screenshot(page, 'dashboard-api-keys.png');

    // A second tab signed in with the new key: revoking it signs that tab out at its next request.
    const { page: other } = await openDashboard();
    await signIn(other, created);

    const keyRow = row(page, created.slice(0, 10));
    await keyRow.getByRole('button', { name: 'Revoke' }).click();
    const confirm = page.getByRole('dialog', { name: /^Revoke/ });
    await see(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
    await confirm.getByRole('button', { name: 'Revoke' }).click();
    await see(keyRow).toContainText('Revoked');
    await see(keyRow.getByRole('button', { name: 'Revoke' })).toHaveCount(0);
    await expect
      .poll(async () => (await app.graphql('{ workspace { name } }', { apiKey: created })).status, { timeout: 5_000 })
      .toBe(401);
    await other.getByRole('navigation').getByRole('link', { name: 'Webhooks' }).click();
    await see(other.getByRole('alert')).toContainText('You were signed out');

    // The session is an HttpOnly cookie plus a CSRF token; Sign out ends it on the server.
    const cookie = (await page.context().cookies()).find((c) => c.name === 'convo_hooks_session');
    expect(cookie?.httpOnly).toBe(true);
    const headers = { cookie: `${cookie?.name}=${cookie?.value}` };
    const resumed = await fetch(`${dashboard}/session`, { headers });
    expect(resumed.status).toBe(200);
    const { csrfToken } = (await resumed.json()) as { csrfToken: string };
    const asSession = () =>
      fetch(dashboard.replace(/\/dashboard$/, '/graphql'), {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'x-csrf-token': csrfToken },
        body: JSON.stringify({ query: '{ workspace { name } }' }),
      });
    expect((await asSession()).status).toBe(200);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await see(page.getByLabel('API key')).toBeFocused();
    await see(page.getByRole('navigation', { name: 'Dashboard' })).toHaveCount(0);
    expect((await fetch(`${dashboard}/session`, { headers })).status).toBe(401);
    expect((await asSession()).status).toBe(401);
    // A reload stays signed out.
    await page.reload();
    await see(page.getByLabel('API key')).toBeVisible();
    expect(problems).toEqual([]);
  }, 60_000);

  it('counts a long list as "1,000+" (boundedCount), without waiting for an exact count', async () => {
    const busy = await portal.newWorkspace('Busy workspace');
    const receiver = await createReceiver();
    const registered = await portal.graphql(REGISTER, {
      apiKey: busy.apiKey,
      variables: {
        input: { name: 'Busy hook', agentId: 'agent-busy', url: receiver.url, events: ['CONVERSATION_ENDED'] },
      },
    });
    // One real event (for an agent without webhooks), then 1,001 deliveries of it, set-based.
    const published = await portal.graphql(PUBLISH, {
      apiKey: busy.apiKey,
      variables: { input: { agentId: 'agent-quiet', type: 'CONVERSATION_ENDED', data: { conversationId: 'c-busy' } } },
    });
    const eventId = published.data?.publishEvent.id as string;
    await portal.sql`
      insert into deliveries (id, workspace_id, event_id, webhook_id, status, attempt_count, created_at, updated_at)
      select 'dlv_busy' || lpad(n::text, 8, '0'), ${busy.workspaceId}, ${eventId}, ${registered.data?.registerWebhook.id},
        'succeeded', 1, now() - n * interval '1 second', now()
      from generate_series(1, 1001) n`;
    const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
    await page.goto(portalApi.replace(/\/graphql$/, '/dashboard/deliveries'));
    await signIn(page, busy.apiKey);
    await see(page.getByRole('table', { name: '1,000+ deliveries, newest first' })).toBeVisible();
    await page.close();
  }, 60_000);

  it('registers a webhook with the keyboard alone, with focus visible and moved to each new page', async () => {
    const { page, problems } = await openDashboard();
    const receiver = await createReceiver();
    // Sign-in puts focus in the key field.
    await see(page.getByLabel('API key')).toBeFocused();
    await page.keyboard.type(apiKey);
    await page.keyboard.press('Enter');
    await see(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeFocused();

    /** Tabs forward until the focused element has this accessible name. */
    async function tabTo(name: string) {
      for (let i = 0; i < 40; i++) {
        await page.keyboard.press('Tab');
        const focused = await page.evaluate(() => {
          const el = document.activeElement as HTMLElement | null;
          const label = el?.closest('label')?.textContent ?? '';
          return (el?.getAttribute('aria-label') ?? (el?.textContent || label) ?? '').trim();
        });
        if (focused === name) return;
      }
      throw new Error(`Tab never reached ${name}`);
    }

    await tabTo('Webhooks');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement as Element).outlineStyle);
    expect(outline).not.toBe('none');
    await page.keyboard.press('Enter');
    await see(page.getByRole('heading', { level: 1, name: 'Webhooks' })).toBeFocused();
    await tabTo('Register webhook');
    await page.keyboard.press('Enter');
    await see(page.getByRole('dialog', { name: 'Register webhook' }).getByLabel('Name')).toBeFocused();
    await page.keyboard.type('Keyboard hook');
    await page.keyboard.press('Tab');
    await page.keyboard.type('agent-keys');
    await page.keyboard.press('Tab');
    await page.keyboard.type(receiver.url);
    await tabTo('conversation_analysed');
    await page.keyboard.press('Space');
    await tabTo('Register');
    await page.keyboard.press('Enter');
    const secret = page.getByLabel('Signing secret');
    await see(secret).toHaveValue(/^whsec_/);
    await tabTo('Done');
    await page.keyboard.press('Enter');
    await see(page.getByRole('dialog')).toHaveCount(0);
    await see(row(page, 'Keyboard hook')).toContainText('conversation_analysed');
    // Escape closes a dialog and gives focus back to the button that opened it.
    await page.getByRole('button', { name: 'Register webhook' }).focus();
    await page.keyboard.press('Enter');
    await see(page.getByRole('dialog', { name: 'Register webhook' })).toBeVisible();
    await page.keyboard.press('Escape');
    await see(page.getByRole('dialog')).toHaveCount(0);
    await see(page.getByRole('button', { name: 'Register webhook' })).toBeFocused();
    expect(problems).toEqual([]);
  }, 60_000);
});

/**
 * A platform's page on another site (http://localhost:…) showing a portal session of the
 * dashboard (http://127.0.0.1:…) in an iframe, in a Chromium that blocks third-party cookies.
 */
describe('a portal session in a cross-site iframe', () => {
  let blocking: Browser;

  beforeAll(async () => {
    blocking = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [...CHROMIUM_ARGS, '--test-third-party-cookie-phaseout'],
    });
  }, 120_000);
  afterAll(async () => {
    await blocking?.close();
  });

  /** The platform's server makes a portal session with its API key, over HTTP as it would. */
  async function portalSession(input: Record<string, unknown>): Promise<string> {
    const response = await fetch(portalApi, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': portalKey },
      body: JSON.stringify({
        query: 'mutation($input: CreatePortalSessionInput!) { createPortalSession(input: $input) { url } }',
        variables: { input },
      }),
    });
    const body = (await response.json()) as { data?: { createPortalSession: { url: string } } };
    const url = body.data?.createPortalSession.url;
    if (!url) throw new Error(JSON.stringify(body));
    return url;
  }

  async function registerFor(agentId: string, name: string): Promise<string> {
    const registered = await portal.graphql(REGISTER, {
      apiKey: portalKey,
      variables: { input: { name, agentId, url: 'http://127.0.0.1:9/hooks', events: ['CONVERSATION_ENDED'] } },
    });
    return registered.data?.registerWebhook.id as string;
  }

  it("shows only its agent's webhooks, no manage buttons with VIEW alone, and the API refuses that session's writes", async () => {
    const mine = await registerFor('agent-portal', 'Portal hook');
    await registerFor('agent-other', 'Other agent hook');
    const url = await portalSession({ agentIds: ['agent-portal'], capabilities: ['VIEW'] });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dashboard\/portal#token=/);
    framed = url;

    const page = await blocking.newPage({ viewport: { width: 1280, height: 820 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    const redeemed = page.waitForResponse(
      (response) => response.url().endsWith('/dashboard/session') && response.request().method() === 'POST',
    );
    await page.goto(parentOrigin);
    const { sessionToken } = (await (await redeemed).json()) as { sessionToken: string };
    const frame = page.frameLocator('iframe[title="Webhooks"]');
    const nav = frame.getByRole('navigation', { name: 'Dashboard' });
    await see(nav).toBeVisible();

    // Signed in from the fragment, which is gone from the frame's address; no cookie there.
    const inner = page.frames().find((f) => f !== page.mainFrame()) as Frame;
    expect(inner.url()).not.toContain('token');
    expect(inner.url()).toMatch(/\/dashboard$/);
    const cookies = await inner.evaluate(() => {
      // biome-ignore lint/suspicious/noDocumentCookie: a probe of what a third-party frame may store
      document.cookie = 'probe=1; SameSite=None; Secure';
      return document.cookie;
    });
    expect(cookies, 'third-party cookies are blocked in this frame').toBe('');

    await see(nav.getByRole('link', { name: 'Webhooks' })).toBeVisible();
    await see(nav.getByRole('link', { name: 'API keys' })).toHaveCount(0);
    await nav.getByRole('link', { name: 'Webhooks' }).click();
    await see(row(frame, 'Portal hook')).toContainText('agent-portal');
    await see(row(frame, 'Other agent hook')).toHaveCount(0);
    await see(frame.getByRole('button', { name: 'Register webhook' })).toHaveCount(0);
    await expectAccessible(inner, 'portal webhooks');
    await screenshot(page, 'dashboard-portal.png');

    await row(frame, 'Portal hook').getByRole('link', { name: 'Portal hook' }).click();
    await see(frame.getByRole('heading', { level: 1, name: 'Portal hook' })).toBeVisible();
    await see(frame.getByRole('definition').filter({ hasText: 'None waiting' })).toBeVisible();
    for (const name of ['Send test event', 'Pause', 'Rotate secret', 'Edit', 'Delete', 'Recover failed deliveries']) {
      await see(frame.getByRole('button', { name, exact: true })).toHaveCount(0);
    }

    // The same session's token, used directly: reads stay in scope, writes are FORBIDDEN.
    const asPortal = async (query: string, variables: Record<string, unknown>) => {
      const response = await fetch(portalApi, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${sessionToken}` },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, ...((await response.json()) as { data?: any; errors?: any[] }) };
    };
    const list = await asPortal('{ webhooks(first: 10) { edges { node { name } } } }', {});
    expect(list.data?.webhooks.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(['Portal hook']);
    const write = await asPortal('mutation($id: ID!) { updateWebhook(id: $id, input: { name: "Hijacked" }) { id } }', {
      id: mine,
    });
    expect(write.status).toBe(403);
    expect(write.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const after = await portal.graphql('query($id: ID!) { webhook(id: $id) { name } }', {
      apiKey: portalKey,
      variables: { id: mine },
    });
    expect(after.data?.webhook.name).toBe('Portal hook');

    // The URL worked once.
    const again = await fetch(new URL('/dashboard/session', portalApi), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ portalToken: new URL(url).hash.replace('#token=', '') }),
    });
    expect(again.status).toBe(401);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it('shows the buttons a session may use: MANAGE_WEBHOOKS and RETRY', async () => {
    framed = await portalSession({ agentIds: ['agent-portal'], capabilities: ['MANAGE_WEBHOOKS', 'RETRY'] });
    const page = await blocking.newPage({ viewport: { width: 1280, height: 820 } });
    await page.goto(parentOrigin);
    const frame = page.frameLocator('iframe[title="Webhooks"]');
    await frame.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Webhooks' }).click();
    await see(frame.getByRole('button', { name: 'Register webhook' })).toBeVisible();
    await row(frame, 'Portal hook').getByRole('link', { name: 'Portal hook' }).click();
    for (const name of ['Send test event', 'Pause', 'Edit', 'Recover failed deliveries']) {
      await see(frame.getByRole('button', { name, exact: true })).toBeVisible();
    }
    await page.close();
  }, 60_000);

  it('is refused in a frame by a server without DASHBOARD_FRAME_ANCESTORS', async () => {
    framed = dashboard;
    const page = await blocking.newPage();
    const refusals: string[] = [];
    page.on('console', (message) => {
      if (/frame-ancestors/.test(message.text())) refusals.push(message.text());
    });
    await page.goto(parentOrigin);
    await expect.poll(() => refusals.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(refusals[0]).toContain("frame-ancestors 'none'");
    const frame = page.frameLocator('iframe[title="Webhooks"]');
    await see(frame.getByLabel('API key')).toHaveCount(0);
    await page.close();
  }, 30_000);
});
