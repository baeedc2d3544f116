import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { ensureDashboardBuilt } from '../support/dashboard-build.js';

/** The dashboard as `npm run build` makes it (web/vite.config.ts), served by the app at /dashboard. */
let build: string;
let app: TestApp;
beforeAll(async () => {
  build = await ensureDashboardBuilt();
  app = await appWith();
}, 120_000);

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The same handler as `npm start`, with this run's build instead of dist/dashboard. */
function appWith(env: Record<string, string> = {}, directory?: string) {
  return createTestApp(env, { dashboardDirectory: directory ?? build });
}

describe('the dashboard build', () => {
  it('is at most 200 KB of gzipped JavaScript, and loads nothing from elsewhere', async () => {
    const assets = await fs.readdir(path.join(build, 'assets'));
    const scripts = assets.filter((name) => name.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    let gzipped = 0;
    for (const name of scripts) gzipped += gzipSync(await fs.readFile(path.join(build, 'assets', name))).length;
    expect(gzipped).toBeLessThanOrEqual(200 * 1024);

    const html = await fs.readFile(path.join(build, 'index.html'), 'utf8');
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) expect(url).toMatch(/^\/dashboard\/assets\/[\w.-]+$/);
    // The CSP allows no inline script: every script is a file.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    for (const name of assets) {
      expect(await fs.readFile(path.join(build, 'assets', name), 'utf8')).not.toMatch(
        /https?:\/\/(?!www\.w3\.org)[\w.-]+\/[\w./-]*\.(js|css|woff2?)\b/,
      );
    }
  });
});

describe('/dashboard', () => {
  it('answers index.html for the page and every client route, with a strict CSP, nosniff and no referrer', async () => {
    for (const route of ['/dashboard', '/dashboard/', '/dashboard/webhooks/wh_123', '/dashboard/portal']) {
      const response = await app.yoga.fetch(`http://localhost${route}`);
      expect(response.status, route).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('content-security-policy')).toBe(CSP);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(await response.text()).toContain('<div id="app"></div>');
    }
  });

  it('serves the hashed assets with a year of cache, and nothing else of the folder', async () => {
    const html = await (await app.yoga.fetch('http://localhost/dashboard')).text();
    const script = /src="(\/dashboard\/assets\/[^"]+\.js)"/.exec(html)?.[1] as string;
    const style = /href="(\/dashboard\/assets\/[^"]+\.css)"/.exec(html)?.[1] as string;
    const js = await app.yoga.fetch(`http://localhost${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(js.headers.get('content-security-policy')).toBe(CSP);
    expect((await js.arrayBuffer()).byteLength).toBe((await fs.stat(path.join(build, script.slice(11)))).size);
    expect((await app.yoga.fetch(`http://localhost${style}`)).headers.get('content-type')).toBe(
      'text/css; charset=utf-8',
    );

    for (const missing of [
      '/dashboard/assets/nothing.js',
      '/dashboard/assets/%2e%2e%2findex.html',
      '/dashboard/assets/..%2f..%2fpackage.json',
      '/dashboard/assets/.hidden.js',
      '/dashboard/assets/index.html',
    ]) {
      const response = await app.yoga.fetch(`http://localhost${missing}`);
      expect(response.status, missing).toBe(404);
      expect(await response.text()).toBe('Not found');
    }
  });

  it('refuses writes, and leaves /dashboard/session and /graphql to the API', async () => {
    const post = await app.yoga.fetch('http://localhost/dashboard/webhooks', { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const session = await app.yoga.fetch('http://localhost/dashboard/session');
    expect(session.headers.get('content-type') ?? '').not.toContain('text/html');
    const { apiKey } = await app.newWorkspace();
    expect((await app.graphql('{ workspace { id } }', { apiKey })).data?.workspace.id).toMatch(/^org_/);
  });

  it('lets DASHBOARD_FRAME_ANCESTORS frame it, and says how to build it when it is not built', async () => {
    const framed = await appWith({ DASHBOARD_FRAME_ANCESTORS: 'https://app.example.com,https://*.example.org' });
    const response = await framed.yoga.fetch('http://localhost/dashboard');
    expect(response.headers.get('content-security-policy')).toMatch(
      / frame-ancestors https:\/\/app\.example\.com https:\/\/\*\.example\.org$/,
    );

    const unbuilt = await appWith({}, await fs.mkdtemp(path.join(os.tmpdir(), 'no-dashboard-')));
    const answer = await unbuilt.yoga.fetch('http://localhost/dashboard/deliveries');
    expect(answer.status).toBe(503);
    expect(await answer.text()).toMatch(/npm run build/);
  });
});
