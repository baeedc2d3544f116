/**
 * `npm run schema:breaking [ref]`: lists changes between the schema.graphql committed at
 * `ref` (default main) and the schema the code builds now that would break existing
 * clients, and exits 1 if there are any. See the README on evolving the schema.
 */
import { execFileSync } from 'node:child_process';
import { CriticalityLevel, diff } from '@graphql-inspector/core';
import { buildSchema } from 'graphql';

export async function breakingChanges(before: string, after: string): Promise<string[]> {
  const changes = await diff(buildSchema(before), buildSchema(after));
  return changes.filter((c) => c.criticality.level === CriticalityLevel.Breaking).map((c) => c.message);
}

async function main() {
  const ref = process.argv[2] ?? 'main';
  const { printedSchema } = await import('../src/schema.js');
  let before: string;
  try {
    before = execFileSync('git', ['show', `${ref}:schema.graphql`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    process.stdout.write(`No schema.graphql at ${ref}; nothing to compare.\n`);
    return;
  }
  const breaking = await breakingChanges(before, printedSchema());
  if (breaking.length === 0) {
    process.stdout.write(`No breaking changes against ${ref}.\n`);
    return;
  }
  process.stdout.write(`Breaking changes against ${ref}:\n${breaking.map((m) => `  - ${m}`).join('\n')}\n`);
  process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
