export type LruOptions<V> = {
  /** Entries kept at most; past this the least recently used go first. */
  maxEntries: number;
  /** With `weigh`: the total weight kept at most (for example characters of text). */
  maxWeight?: number;
  weigh?: (value: V) => number;
};

/**
 * A map bounded in entries (and optionally in total weight) that drops the least recently
 * used entry first, so memory stays bounded whatever keys callers send. A `Map` iterates in
 * insertion order, so re-inserting an entry on each read or write keeps the oldest first.
 * A value heavier than the whole bound is not kept, and evicts nothing.
 */
export function createLru<K, V>({ maxEntries, maxWeight = Number.POSITIVE_INFINITY, weigh = () => 0 }: LruOptions<V>) {
  const entries = new Map<K, V>();
  let weight = 0;

  function remove(key: K) {
    if (!entries.has(key)) return;
    weight -= weigh(entries.get(key) as V);
    entries.delete(key);
  }

  return {
    get(key: K): V | undefined {
      if (!entries.has(key)) return undefined;
      const value = entries.get(key) as V;
      entries.delete(key);
      entries.set(key, value);
      return value;
    },
    set(key: K, value: V) {
      const added = weigh(value);
      if (added > maxWeight) return;
      remove(key);
      entries.set(key, value);
      weight += added;
      for (const oldest of entries.keys()) {
        if (entries.size <= maxEntries && weight <= maxWeight) break;
        remove(oldest);
      }
    },
    /** The value without counting as a use. */
    peek: (key: K): V | undefined => entries.get(key),
    /** Whether the key is held, without counting as a use. */
    has: (key: K) => entries.has(key),
    delete: remove,
    clear() {
      entries.clear();
      weight = 0;
    },
    /** Least recently used first; reading through it counts as no use. */
    entries: () => entries.entries(),
    get size() {
      return entries.size;
    },
  };
}

export type Lru<K, V> = ReturnType<typeof createLru<K, V>>;
