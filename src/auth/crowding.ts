/** Another key seen this recently makes the process shared. */
const SHARED_FOR_MS = 1_000;

/**
 * Whether this process is crowded for a key: its event loop congested (lib/loop-delay.ts)
 * while other keys are being served too. Then each key gets its share (auth/key-turns.ts,
 * and the heavy rates of auth/use-rate-limit.ts); a key alone, or a loop with room, gets
 * everything its limits allow, since sharing would only slow it down for nobody's good.
 */
export function createCrowding(congested: () => boolean = () => true, now = () => performance.now()) {
  // The two keys seen last, and when: the latest key other than any given one is one of them.
  let last = { keyId: '', at: Number.NEGATIVE_INFINITY };
  let before = { keyId: '', at: Number.NEGATIVE_INFINITY };
  return {
    /** A request of `keyId` arrived. */
    seen(keyId: string) {
      const at = now();
      if (last.keyId !== keyId) before = last;
      last = { keyId, at };
    },
    crowded(keyId: string): boolean {
      const other = last.keyId !== keyId ? last : before;
      return now() - other.at < SHARED_FOR_MS && congested();
    },
  };
}

export type Crowding = ReturnType<typeof createCrowding>;
