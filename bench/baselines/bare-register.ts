/**
 * Baseline for the register scenario: a bare node:http handler doing registerWebhook's
 * work without GraphQL (API-key lookup, the same zod rules and target check, the same
 * encrypted INSERT)
 * with postgres.js on the same database and the same pool size as the server.
 * With BARE_WORKSPACE_ID set it skips the key lookup and inserts into that workspace:
 * the floor, only the validated, encrypted INSERT.
 */
import { createServer } from 'node:http';
import { authenticateApiKey } from '../../src/auth/api-keys.js';
import { createPool } from '../../src/db/sql.js';
import { webhookRules } from '../../src/webhooks/rules.js';
import { insertWebhook } from '../../src/webhooks/store.js';
import { targetUrlProblem } from '../../src/webhooks/targets.js';

const sql = createPool(String(process.env.DATABASE_URL), { max: 10 });
const secretKey = Buffer.from(String(process.env.SECRET_ENCRYPTION_KEY), 'hex');
const fixedWorkspaceId = process.env.BARE_WORKSPACE_ID;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    try {
      const workspaceId =
        fixedWorkspaceId ?? (await authenticateApiKey(sql, String(req.headers['x-api-key'])))?.workspaceId;
      if (!workspaceId) return void res.writeHead(401).end();
      const { input: raw } = JSON.parse(Buffer.concat(chunks).toString()).variables;
      const parsed = {
        name: webhookRules.name.parse(raw.name),
        agentId: webhookRules.agentId.parse(raw.agentId),
        url: webhookRules.url.parse(raw.url),
        events: webhookRules.events.parse(raw.events.map((e: string) => e.toLowerCase())),
      };
      if (targetUrlProblem(new URL(parsed.url), false)) return void res.writeHead(400).end();
      const webhook = await insertWebhook(sql, secretKey, {
        ...parsed,
        workspaceId,
        active: true,
        rateLimitPerSecond: null,
      });
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ data: { registerWebhook: { id: webhook.id, secret: webhook.secret } } }));
    } catch {
      res.writeHead(500).end();
    }
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void sql.end().then(() => process.exit(0));
});
