import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context, RequestContext } from '../graphql/builder.js';

type MaybeKeyed = RequestContext & Partial<Pick<Context, 'access'>>;

export type KeyConcurrencyOptions = {
  /** Operations of one key that run at once in this process; the rest wait their turn. */
  running: number;
  /** Operations of one key that may wait; past that they are refused (429). */
  waiting: number;
};

/** This process's totals over every key, for the metrics (graphql_operations_running / _waiting). */
export type ConcurrencyGauges = { running: { inc(): void; dec(): void }; waiting: { inc(): void; dec(): void } };

/**
 * Each key's share of this process: at most `running` of its queries and mutations run
 * at once (each may hold a database connection the whole pool shares), the next
 * `waiting` queue behind them, and more answer 429 RATE_LIMITED. A client that sends
 * many requests at once still gets them all done, in turn; it cannot take every
 * connection of the pool from the other workspaces. Subscriptions have their own cap.
 */
export function useKeyConcurrency(options: KeyConcurrencyOptions, gauges?: ConcurrencyGauges): Plugin<MaybeKeyed> {
  const keys = new Map<string, { running: number; queue: (() => void)[] }>();
  const acquire = async (keyId: string) => {
    let key = keys.get(keyId);
    if (!key) {
      key = { running: 0, queue: [] };
      keys.set(keyId, key);
    }
    if (key.running < options.running) {
      key.running++;
      gauges?.running.inc();
      return;
    }
    if (key.queue.length >= options.waiting) throw tooMany(options);
    gauges?.waiting.inc();
    await new Promise<void>((resolve) => key.queue.push(resolve));
  };
  const release = (keyId: string) => {
    const key = keys.get(keyId);
    if (!key) return;
    // The slot passes straight to the next in line, if any.
    const next = key.queue.shift();
    if (next) {
      gauges?.waiting.dec();
      next();
      return;
    }
    gauges?.running.dec();
    if (--key.running === 0) keys.delete(keyId);
  };
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      // A session's operations share its key's: signing in many does not multiply them.
      const keyId = args.contextValue.access?.keyId;
      if (!keyId) return;
      setExecuteFn(async (executeArgs) => {
        await acquire(keyId);
        try {
          return await executeFn(executeArgs);
        } finally {
          release(keyId);
        }
      });
    },
  };
}

function tooMany(options: KeyConcurrencyOptions): GraphQLError {
  return new GraphQLError(
    `Too many operations at once for this API key (${options.running} running, ${options.waiting} waiting): send fewer at a time`,
    { extensions: { code: 'RATE_LIMITED', http: { status: 429, headers: { 'Retry-After': '1' } } } },
  );
}
