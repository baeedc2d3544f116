import type { LookupAddress } from 'node:dns';
import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';

/** Names to addresses, as in /etc/hosts: `address name [alias…]`, `#` starts a comment. */
export function parseHosts(text: string): Map<string, LookupAddress[]> {
  const names = new Map<string, LookupAddress[]>();
  for (const line of text.split('\n')) {
    const [address, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
    const family = address ? isIP(address.replace(/%.*$/, '')) : 0;
    if (!address || family === 0) continue;
    for (const alias of aliases) {
      const name = normalName(alias);
      const known = names.get(name) ?? [];
      if (!known.some((a) => a.address === address)) known.push({ address, family });
      names.set(name, known);
    }
  }
  return names;
}

/** Lower case, without the trailing dot: how names are compared. */
export function normalName(hostname: string): string {
  return hostname.toLowerCase().replace(/\.+$/, '');
}

/**
 * The hosts file, read at start and again when it changes: its modification time is looked
 * at every `refreshMs`, in the background, so a lookup never waits on the disk. A missing
 * or unreadable file counts as empty.
 */
export function createHostsFile(path: string, refreshMs = 5_000) {
  let names = new Map<string, LookupAddress[]>();
  let modified = -1;
  let checkedAt = 0;
  let checking: Promise<void> | undefined;

  async function refresh() {
    try {
      const { mtimeMs } = await stat(path);
      if (mtimeMs === modified) return;
      names = parseHosts(await readFile(path, 'utf8'));
      modified = mtimeMs;
    } catch {
      names = new Map();
      modified = -1;
    }
  }

  function check(): Promise<void> {
    checkedAt = Date.now();
    checking ??= refresh().finally(() => {
      checking = undefined;
    });
    return checking;
  }

  const loaded = check();

  return {
    /** Resolves once the file has been read the first time. */
    loaded,
    /** The addresses the file gives `name` (already normal), or undefined. */
    lookup(name: string): LookupAddress[] | undefined {
      if (Date.now() - checkedAt >= refreshMs) void check();
      return names.get(name);
    },
  };
}

export type HostsFile = ReturnType<typeof createHostsFile>;
