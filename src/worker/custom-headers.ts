import { headerNameProblem } from '../webhooks/rules.js';
import { type OpeningKeys, openHeaders } from '../webhooks/secrets.js';
import { openedPerChange } from './opened-per-change.js';

/**
 * A webhook's custom headers as a request takes them, names in lower case (header names
 * are case-insensitive; so ours, set after them, replace any spelling of the same name).
 * A name reserved after the webhook stored it is left out: the rules of today apply.
 */
export function openCustomHeaders(secretKeys: OpeningKeys, webhookId: string, sealed: Buffer | null) {
  return Object.fromEntries(
    openHeaders(secretKeys, sealed, webhookId)
      .filter((h) => headerNameProblem(h.name) === undefined)
      .map((h) => [h.name.toLowerCase(), h.value]),
  );
}

/** openCustomHeaders, once per change. */
export function createCustomHeaders(secretKeys: OpeningKeys) {
  const open = openedPerChange((webhookId, sealed) => openCustomHeaders(secretKeys, webhookId, sealed));
  return (webhookId: string, sealed: Buffer | null): Record<string, string> => (sealed ? open(webhookId, sealed) : {});
}

export type CustomHeaders = ReturnType<typeof createCustomHeaders>;
