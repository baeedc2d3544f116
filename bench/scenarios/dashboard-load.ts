import { type Browser, chromium } from 'playwright-core';

/**
 * `/dashboard` in Chromium, signed in (a cookie session): milliseconds from navigating to
 * the Deliveries screen until its table's first row is visible. It includes the page
 * (JavaScript from the browser's cache after the first load, as a returning user has it),
 * GET /dashboard/session, and the screen's queries (workspace, the first page of
 * deliveries with its boundedCount, the webhook filter's choices) and its live stream.
 */
export async function openDashboards(origin: string, apiKeys: string[]) {
  const browser: Browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  // One tab per workspace, each signed in once through the page's own form.
  const pages = await Promise.all(
    apiKeys.map(async (apiKey) => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
      await page.goto(`${origin}/dashboard`);
      await page.getByLabel('API key').fill(apiKey);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('navigation', { name: 'Dashboard' }).waitFor({ timeout: 30_000 });
      return page;
    }),
  );
  return {
    /** One load of the Deliveries screen in the tab of apiKeys[index]. */
    async loadToFirstRow(index: number): Promise<number> {
      const page = pages[index];
      if (!page) throw new Error(`no tab ${index}`);
      const started = performance.now();
      await page.goto(`${origin}/dashboard/deliveries`);
      await page.locator('main table tbody tr').first().waitFor({ state: 'visible', timeout: 30_000 });
      return performance.now() - started;
    },
    close: () => browser.close(),
  };
}
