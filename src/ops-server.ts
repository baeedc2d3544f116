import type { IncomingMessage, ServerResponse } from 'node:http';
import { isFullyMigrated } from './db/migrate.js';
import type { Pool } from './db/sql.js';
import type { Metrics } from './lib/metrics.js';
import { requestPath } from './lib/request-path.js';

/**
 * What a worker-only process (ROLE=worker) serves: /health, /ready and /metrics, so it
 * can be probed and scraped like an API process, with no GraphQL endpoint.
 */
export function opsHandler(sql: Pool, metrics: Metrics) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const path = requestPath(req.url);
    try {
      if (path === '/health') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"message":"alive"}');
      } else if (path === '/ready') {
        const ready = await isFullyMigrated(sql);
        res.writeHead(ready ? 200 : 503).end();
      } else if (path === '/metrics') {
        const body = await metrics.scrape();
        res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
      } else {
        res.writeHead(404).end();
      }
    } catch {
      res.writeHead(503).end();
    }
  };
}
