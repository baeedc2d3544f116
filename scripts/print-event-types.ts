/**
 * `npm run docs:events` writes the event table and example payloads of docs/receiving.md from
 * the event catalogue (src/events/catalogue.ts); test/events/catalogue.test.ts fails when the
 * page differs, so the table receivers read is the list `Query.eventTypes` answers.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { README_MARKERS, renderEventTypes } from '../src/events/catalogue.js';

const file = fileURLToPath(new URL('../docs/receiving.md', import.meta.url));
const readme = fs.readFileSync(file, 'utf8');
const start = readme.indexOf(README_MARKERS.start);
const end = readme.indexOf(README_MARKERS.end);
if (start < 0 || end < start) {
  process.stderr.write('docs/receiving.md has no event-types block (its start and end markers) to fill.\n');
  process.exit(1);
}
fs.writeFileSync(file, readme.slice(0, start) + renderEventTypes() + readme.slice(end + README_MARKERS.end.length));
process.stdout.write(`wrote the event types into ${file}\n`);
