import { contextCacheSymbol } from '@pothos/core';
import type { Config } from '../config.js';
import type { Context } from './builder.js';
import { createReadBudget, type ReadLimits } from './read-budget.js';

/** What one request may read: its cost limit in rows, and MAX_RESPONSE_BYTES of event data. */
export const readLimits = (config: Config): ReadLimits => ({
  rows: config.maxQueryCost,
  bytes: config.maxResponseBytes,
  counts: MAX_COUNTS_PER_REQUEST,
});

/** Exact counts one request may make: enough for a screen's few lists, not for 20 aliases. */
export const MAX_COUNTS_PER_REQUEST = 3;

/**
 * A subscription answers many times over one context. Before each answer, give it what
 * a new request has: empty loaders (a cached delivery would be stale by the next change)
 * and a full read budget (a long stream would otherwise run out of it).
 */
export function startSubscriptionEvent(ctx: Context) {
  (ctx as Context & { [contextCacheSymbol]: object })[contextCacheSymbol] = {};
  ctx.budget = createReadBudget(readLimits(ctx.config));
}
