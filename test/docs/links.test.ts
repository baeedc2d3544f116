import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const documents = [
  'README.md',
  ...fs
    .readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** Markdown lines outside fenced code blocks: a `#` or a `[x](y)` inside a fence is code, not a heading or a link. */
function prose(markdown: string): string[] {
  let fence: string | undefined;
  const lines: string[] = [];
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(```|~~~)/.exec(line)?.[1];
    if (marker && (fence === undefined || fence === marker)) {
      fence = fence === undefined ? marker : undefined;
      continue;
    }
    if (fence === undefined) lines.push(line);
  }
  return lines;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped (but `-` and `_`), spaces to `-`. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a file's headings make; a repeated heading gets `-1`, `-2`… as on GitHub. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of prose(markdown)) {
    const heading = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** Relative link targets of a file (external URLs left out), code spans and fences skipped. */
function relativeLinks(markdown: string): string[] {
  const links: string[] = [];
  for (const line of prose(markdown)) {
    const text = line.replace(/`[^`]*`/g, '');
    for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = match[1] as string;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      links.push(target);
    }
  }
  return links;
}

/** What is wrong with each relative link of `file` (relative to the repository root): a missing file or heading. */
function brokenLinks(file: string, read: (file: string) => string | undefined): string[] {
  const markdown = read(file) ?? '';
  const problems: string[] = [];
  for (const link of relativeLinks(markdown)) {
    const [pathPart = '', anchor] = link.split('#', 2);
    const target =
      pathPart === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), decodeURI(pathPart)));
    const content = read(target);
    if (content === undefined) {
      problems.push(`${link}: no file ${target}`);
      continue;
    }
    if (anchor !== undefined && target.endsWith('.md') && !anchors(content).has(decodeURIComponent(anchor))) {
      problems.push(`${link}: ${target} has no heading #${anchor}`);
    }
  }
  return problems;
}

function readFromDisk(file: string): string | undefined {
  const full = path.join(root, file);
  if (!fs.existsSync(full)) return undefined;
  return fs.statSync(full).isDirectory() ? '' : fs.readFileSync(full, 'utf8');
}

describe('the README and docs/', () => {
  it('the README is a front door: at most 260 lines', () => {
    const lines = fs.readFileSync(path.join(root, 'README.md'), 'utf8').trimEnd().split('\n').length;
    expect(lines).toBeLessThanOrEqual(260);
  });

  it.each(documents)('every relative link of %s names an existing file and heading', (file) => {
    expect(brokenLinks(file, readFromDisk)).toEqual([]);
  });
});

describe('the link check itself', () => {
  it('makes anchors as GitHub does', () => {
    expect(slug('Guarantees, and the drill that proves each')).toBe('guarantees-and-the-drill-that-proves-each');
    expect(slug('Metrics (`/metrics`)')).toBe('metrics-metrics');
    expect(slug("Resolving receivers' host names")).toBe('resolving-receivers-host-names');
    expect(slug('Stopping: draining an API process')).toBe('stopping-draining-an-api-process');
    expect([...anchors('# A\n## A\n```sh\n# not a heading\n```\n## b_c-d')]).toEqual(['a', 'a-1', 'b_c-d']);
  });

  it('finds a missing file, a missing heading, and a heading missing from the same file', () => {
    const files: Record<string, string> = {
      'README.md': '# Top\n[ok](docs/a.md#part) [gone](docs/b.md) [no](docs/a.md#nope) [self](#top) [bad](#bottom)',
      'docs/a.md': '# A\n## Part\n[up](../README.md#top) [web](https://example.com/x.md) `[code](nowhere.md)`',
    };
    const read = (file: string) => files[file];
    expect(brokenLinks('README.md', read)).toEqual([
      'docs/b.md: no file docs/b.md',
      'docs/a.md#nope: docs/a.md has no heading #nope',
      '#bottom: README.md has no heading #bottom',
    ]);
    expect(brokenLinks('docs/a.md', read)).toEqual([]);
  });
});
