import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate } from '@graphql-codegen/cli';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import config from '../../codegen.js';
import { breakingChanges } from '../../scripts/breaking-changes.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { createReceiver, eventually } from '../support/receiver.js';
import type { ListWebhooksQuery } from './generated/graphql.js';
import { ListWebhooks, PublishEvent, RegisterWebhook, WebhookDeliveries } from './operations.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const schemaFile = path.join(ROOT, 'schema.graphql');

let app: TestApp;
let url: string;
let apiKey: string;
beforeAll(async () => {
  app = await createTestApp();
  url = await app.listen();
  ({ apiKey } = await app.newWorkspace());
  app.startWorker();
});

/** The smallest typed client: what urql, Apollo or graphql-request do with a TypedDocumentNode. */
async function request<Result, Variables>(
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
): Promise<Result> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await response.json()) as { data?: Result; errors?: { message: string }[] };
  if (body.errors) throw new Error(body.errors.map((e) => e.message).join('; '));
  return body.data as Result;
}

/** Runs codegen in memory against `schema` (an SDL file) and returns its files. */
async function codegen(schema = schemaFile) {
  const outputs = await generate({ ...config, schema, cwd: ROOT, silent: true, errorsOnly: true }, false);
  return outputs as { filename: string; content: string }[];
}

describe('GraphQL Code Generator (client preset) against schema.graphql', () => {
  it('produces exactly the committed typed documents (run `npm run codegen` after changing operations)', async () => {
    for (const { filename, content } of await codegen()) {
      expect(fs.readFileSync(path.resolve(ROOT, filename), 'utf8'), filename).toBe(content);
    }
  });

  it('fails when the schema stops fitting the operations', async () => {
    const broken = path.join(ROOT, 'test/clients/.broken-schema.graphql');
    fs.writeFileSync(broken, fs.readFileSync(schemaFile, 'utf8').replace(/\n\s+"""[^"]*"""\n\s+totalCount: Int!/g, ''));
    try {
      await expect(codegen(broken)).rejects.toThrow(/totalCount/);
    } finally {
      fs.rmSync(broken);
    }
  });

  it('typed operations run against the server: register, page through, publish, read deliveries', async () => {
    const receiver = await createReceiver();
    const { registerWebhook } = await request(RegisterWebhook, {
      input: { name: 'Typed', agentId: 'typed-agent', url: receiver.url, events: ['CONVERSATION_ENDED'] },
    });
    expect(registerWebhook.secret).toMatch(/^whsec_/);
    for (let i = 0; i < 2; i++) {
      await request(RegisterWebhook, {
        input: { name: `more ${i}`, agentId: 'typed-agent', url: receiver.url, events: ['CONVERSATION_STARTED'] },
      });
    }

    const seen: string[] = [];
    let after: string | null | undefined = null;
    do {
      const { webhooks }: ListWebhooksQuery = await request(ListWebhooks, { agentId: 'typed-agent', first: 2, after });
      seen.push(...webhooks.edges.map((e) => e.node.id));
      after = webhooks.pageInfo.hasNextPage ? webhooks.pageInfo.endCursor : null;
    } while (after);
    expect(seen).toHaveLength(3);
    expect(seen).toContain(registerWebhook.id);

    const { publishEvent } = await request(PublishEvent, {
      input: { agentId: 'typed-agent', type: 'CONVERSATION_ENDED', data: { ok: true } },
    });
    const deliveries = await eventually(async () => {
      const { webhook } = await request(WebhookDeliveries, { id: registerWebhook.id, status: 'SUCCEEDED', first: 10 });
      // Wait on the page itself: totalCount is a separate query and can see the success first.
      return webhook?.deliveries.edges.length === 1 ? webhook.deliveries : undefined;
    });
    expect(deliveries.edges[0]?.node.event.id).toBe(publishEvent.id);
    expect(deliveries.edges[0]?.node.attempts[0]?.statusCode).toBe(200);
  });
});

describe("the README's codegen.ts, in a project outside this repository", () => {
  it('reads the schema from the running server without a key and maps DateTime and JSON', async () => {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), 'frontend-'));
    try {
      fs.mkdirSync(path.join(project, 'src'));
      // Its own installs of @graphql-codegen/cli and client-preset: ours, linked.
      fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(project, 'node_modules'));
      fs.writeFileSync(
        path.join(project, 'src/hooks.ts'),
        "import { graphql } from './gql';\nexport const Hooks = graphql(`query Hooks { webhooks(first: 5) { edges { node { id createdAt } } } }`);\nexport const Data = graphql(`query Data($id: ID!) { event(id: $id) { data } }`);\n",
      );
      process.env.CONVO_HOOKS_URL = url;
      // Imported after the variable is set: the config reads it when it loads.
      const { default: readmeConfig } = await import('./snippets/codegen.js');
      const outputs = (await generate({ ...readmeConfig, cwd: project, silent: true, errorsOnly: true }, false)) as {
        filename: string;
        content: string;
      }[];
      const types = outputs.find((o) => o.filename.endsWith('graphql.ts'))?.content ?? '';
      // Unmapped, both would be `any`.
      expect(types).toMatch(/export type HooksQuery = .*createdAt: string/);
      expect(types).toMatch(/export type DataQuery = .*data: unknown/);
    } finally {
      delete process.env.CONVO_HOOKS_URL;
      fs.rmSync(project, { recursive: true, force: true });
    }
  });
});

describe('breaking-change check (npm run schema:breaking)', () => {
  const sdl = fs.readFileSync(schemaFile, 'utf8');

  it('flags removals and tightenings that would break existing clients', async () => {
    const removedField = sdl.replace(/\n\s+"""[^"]*"""\n\s+disabledReason: String/, '');
    const requiredArg = sdl.replace('agentId: String\n', 'agentId: String!\n');
    const removedEnumValue = sdl.replace(/\n\s+"""[^"]*"""\n\s+CONVERSATION_ANALYSED/, '');
    for (const after of [removedField, requiredArg, removedEnumValue]) {
      expect(after).not.toBe(sdl);
      expect((await breakingChanges(sdl, after)).length).toBeGreaterThan(0);
    }
  });

  it('lets additions through', async () => {
    const added = sdl.replace('type Webhook {', 'type Webhook {\n  """New."""\n  description: String\n');
    expect(await breakingChanges(sdl, added)).toEqual([]);
    expect(await breakingChanges(sdl, sdl)).toEqual([]);
  });
});
