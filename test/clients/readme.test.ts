import fs from 'node:fs';
import { describe, expect, it } from 'vitest';

const readme = fs.readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
const snippets = new URL('./snippets/', import.meta.url);

describe("docs/api.md's client snippets", () => {
  it.each(fs.readdirSync(snippets))('%s is quoted verbatim, as the code block the tests run', (file) => {
    const code = fs.readFileSync(new URL(file, snippets), 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${code}\`\`\``);
  });
});
