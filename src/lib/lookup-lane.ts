/** Too many lookups at once: the caller answers 503 and a retry rather than queue on the pool. */
export class LookupsBusy extends Error {}

/**
 * Runs lookups `max` at a time with at most `maxWaiting` queued; past that, LookupsBusy.
 * A finished lookup hands its slot straight to the next in line.
 */
export function createLookupLane(max: number, maxWaiting: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(run: () => Promise<T>): Promise<T> => {
    if (running < max) running++;
    else if (waiting.length >= maxWaiting) throw new LookupsBusy('too many lookups at once');
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await run();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

export type LookupLane = ReturnType<typeof createLookupLane>;
