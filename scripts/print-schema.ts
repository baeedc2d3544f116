/**
 * `npm run schema:print` writes schema.graphql from the code; `npm run schema:check`
 * fails when the committed file differs, so clients generating code from it never
 * build against a stale schema.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printedSchema } from '../src/schema.js';

const file = fileURLToPath(new URL('../schema.graphql', import.meta.url));
const printed = printedSchema();

if (process.argv.includes('--check')) {
  const committed = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (committed !== printed) {
    process.stderr.write('schema.graphql is stale: run `npm run schema:print` and commit the result.\n');
    process.exit(1);
  }
  process.stdout.write('schema.graphql is up to date.\n');
} else {
  fs.writeFileSync(file, printed);
  process.stdout.write(`wrote ${file}\n`);
}
