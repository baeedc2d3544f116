import fs from 'node:fs';
import { getNamedType, isEnumType, isInputObjectType, isIntrospectionType, isObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { printedSchema, schema } from '../src/schema.js';

describe('schema.graphql', () => {
  it('matches the schema the code builds (run `npm run schema:print` after changing it)', () => {
    expect(fs.readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8')).toBe(printedSchema());
  });

  it('describes every type, field, argument and enum value, for GraphiQL and codegen users', () => {
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (isIntrospectionType(getNamedType(type)) || type.name.startsWith('__')) continue;
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          for (const arg of 'args' in field ? field.args : []) {
            if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
          }
        }
      }
      if (isEnumType(type)) {
        for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('keeps the contract names: Webhook fields and root operations', () => {
    const webhook = schema.getType('Webhook');
    expect(isObjectType(webhook) && Object.keys(webhook.getFields()).sort()).toEqual(
      expect.arrayContaining([
        'id',
        'workspaceId',
        'name',
        'agentId',
        'url',
        'events',
        'active',
        'secret',
        'createdAt',
        'updatedAt',
        'disabledReason',
      ]),
    );
    expect(Object.keys(schema.getQueryType()?.getFields() ?? {})).toEqual(
      expect.arrayContaining(['webhook', 'webhooks']),
    );
    expect(Object.keys(schema.getMutationType()?.getFields() ?? {})).toEqual(
      expect.arrayContaining(['registerWebhook', 'updateWebhook', 'deleteWebhook']),
    );
  });
});
