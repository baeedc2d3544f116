import fs from 'node:fs/promises';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { createWorkspace } from '../../src/workspaces/store.js';
import { createTestApp } from '../support/app.js';
import { ROOT } from '../support/processes.js';

/**
 * GraphiQL as a person uses it: Debian's Chromium, headless, driven by playwright-core.
 * `.ci/run` installs Chromium; locally set CHROMIUM_PATH if it lives elsewhere.
 */
const ARTIFACTS = path.join(ROOT, 'test/browser/artifacts');
let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  await fs.mkdir(ARTIFACTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
});

async function openGraphiQL(url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(url);
  await page.locator('.graphiql-execute-button').waitFor({ timeout: 30_000 });
  return page;
}

async function runAndReadResult(page: Page): Promise<string> {
  await page.locator('.graphiql-execute-button').click();
  const result = page.locator('.result-window');
  await expect.poll(async () => (await result.textContent()) ?? '', { timeout: 20_000 }).toMatch(/"(data|errors)"/);
  // The result editor wraps long lines; compare without whitespace.
  return ((await result.textContent()) ?? '').replace(/\s+/g, '');
}

describe('GraphiQL in Chromium', () => {
  it('in development opens with the sample operation and the dev key, and registers a webhook whose secret shows in the result pane', async () => {
    const app = await createTestApp(
      {},
      {
        devApiKey: async (sql) => (await createApiKey(sql, (await createWorkspace(sql, 'Dev')).id)).apiKey,
      },
    );
    const page = await openGraphiQL(await app.listen());
    const text = await runAndReadResult(page);
    await page.screenshot({ path: path.join(ARTIFACTS, 'graphiql-dev.png') });
    expect(text).toMatch(/"secret":"whsec_[A-Za-z0-9+/=]{44}"/);
    const [row] = await app.sql`select count(*)::int as n from webhooks`;
    expect(row?.n).toBe(1);
  }, 90_000);

  it('in production shows no key; a person sets X-API-Key in the headers editor, then the same works', async () => {
    const app = await createTestApp(
      { NODE_ENV: 'production' },
      {
        devApiKey: async (sql) => (await createApiKey(sql, (await createWorkspace(sql, 'Dev')).id)).apiKey,
      },
    );
    const { apiKey } = await app.newWorkspace();
    const url = await app.listen();
    expect(await (await fetch(url, { headers: { accept: 'text/html' } })).text()).not.toMatch(/chk_[0-9A-Za-z]{40}/);

    const page = await openGraphiQL(url);
    const unauthenticated = await runAndReadResult(page);
    expect(unauthenticated).toContain('UNAUTHENTICATED');

    // Open the headers editor and replace its content, as a person would.
    await page.getByText('Headers', { exact: true }).click();
    const headers = page.locator('.graphiql-editor-tool .graphiql-editor').last();
    await headers.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(JSON.stringify({ 'X-API-Key': apiKey }));
    const text = await runAndReadResult(page);
    await page.screenshot({ path: path.join(ARTIFACTS, 'graphiql-production.png') });
    expect(text).toMatch(/"secret":"whsec_[A-Za-z0-9+/=]{44}"/);
  }, 90_000);
});
