import type { Sql } from '../db/sql.js';
import { newId } from '../lib/ids.js';

export async function createWorkspace(sql: Sql, name: string): Promise<{ id: string; name: string }> {
  const id = newId('workspace');
  await sql`/* workspaces.create */ insert into workspaces (id, name) values (${id}, ${name})`;
  return { id, name };
}

export async function workspaceExists(sql: Sql, id: string): Promise<boolean> {
  const [row] = await sql`/* workspaces.exists */ select 1 from workspaces where id = ${id}`;
  return row !== undefined;
}

export type Workspace = { id: string; name: string; createdAt: Date };

export async function findWorkspace(sql: Sql, id: string): Promise<Workspace | null> {
  const [row] = await sql<Workspace[]>`/* workspaces.find */
    select id, name, created_at from workspaces where id = ${id}`;
  return row ?? null;
}
