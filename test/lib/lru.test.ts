import { describe, expect, it } from 'vitest';
import { createLru } from '../../src/lib/lru.js';

describe('the LRU map', () => {
  it('keeps at most maxEntries, dropping the least recently used (read or written) first', () => {
    const lru = createLru<string, number>({ maxEntries: 2 });
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1); // a read: b is now the least recently used
    lru.set('c', 3);
    expect([lru.get('a'), lru.get('b'), lru.get('c'), lru.size]).toEqual([1, undefined, 3, 2]);
    lru.set('a', 10); // a write refreshes too: c goes next
    lru.set('d', 4);
    expect([lru.get('a'), lru.get('c'), lru.get('d')]).toEqual([10, undefined, 4]);
  });

  it('keeps at most maxWeight in total, and does not keep a value heavier than the whole bound', () => {
    const lru = createLru<string, string>({ maxEntries: 10, maxWeight: 10, weigh: (text) => text.length });
    lru.set('a', 'aaaa');
    lru.set('b', 'bbbb');
    lru.set('a', 'aa'); // replacing a value gives back its weight: 6 in all
    lru.set('c', 'cccc'); // 10: everything still fits
    expect([lru.get('a'), lru.get('b'), lru.get('c')]).toEqual(['aa', 'bbbb', 'cccc']);
    lru.set('d', 'dddddd'); // 16: the least recently used go until 10 or less remain
    expect([lru.get('a'), lru.get('b'), lru.get('c'), lru.get('d')]).toEqual([undefined, undefined, 'cccc', 'dddddd']);
    lru.set('e', 'e'.repeat(11));
    expect([lru.get('c'), lru.get('d'), lru.get('e'), lru.size]).toEqual(['cccc', 'dddddd', undefined, 2]);
  });

  it('forgets a deleted entry and its weight', () => {
    const lru = createLru<string, string>({ maxEntries: 10, maxWeight: 4, weigh: (text) => text.length });
    lru.set('a', 'aaaa');
    lru.delete('a');
    lru.set('b', 'bbbb'); // fits only because a's weight was given back
    lru.set('c', ''); // weighs nothing: b stays
    expect([lru.get('a'), lru.get('b'), lru.size]).toEqual([undefined, 'bbbb', 2]);
  });

  it('peek, has and entries read without counting as a use; clear empties it', () => {
    const lru = createLru<string, number>({ maxEntries: 2 });
    lru.set('a', 1);
    lru.set('b', 2);
    expect([lru.peek('a'), lru.has('a'), [...lru.entries()]]).toEqual([
      1,
      true,
      [
        ['a', 1],
        ['b', 2],
      ],
    ]);
    lru.set('c', 3); // a was only peeked at: it is still the least recently used
    expect([lru.has('a'), lru.peek('b'), lru.peek('c')]).toEqual([false, 2, 3]);
    lru.clear();
    expect([lru.size, lru.has('b')]).toEqual([0, false]);
  });
});
