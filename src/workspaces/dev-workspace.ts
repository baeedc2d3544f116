import fs from 'node:fs/promises';
import path from 'node:path';
import { createApiKey, workspaceForApiKey } from '../auth/api-keys.js';
import type { Sql } from '../db/sql.js';
import { createWorkspace } from './store.js';

export type DevKey = { workspaceId: string; apiKey: string; created: boolean };

/**
 * The embedded development database gets one workspace and key on first start, kept in
 * DATA_DIR/dev-api-key so that later starts, and the developer, find it again.
 */
export async function ensureDevWorkspace(sql: Sql, dataDir: string): Promise<DevKey> {
  const file = path.join(dataDir, 'dev-api-key');
  const saved = (await fs.readFile(file, 'utf8').catch(() => '')).trim();
  if (saved) {
    const workspaceId = await workspaceForApiKey(sql, saved);
    if (workspaceId) return { workspaceId, apiKey: saved, created: false };
  }
  const workspace = await createWorkspace(sql, 'Development');
  const { apiKey } = await createApiKey(sql, workspace.id);
  await fs.writeFile(file, `${apiKey}\n`, { mode: 0o600 });
  return { workspaceId: workspace.id, apiKey, created: true };
}
