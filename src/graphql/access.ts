// Who is calling and what they may do: part of every request's context (builder.ts), so it
// lives beside the builder, below the domains that check it.

/** What a portal session may do besides reading (CONTRACT.md section 8); VIEW is always held. */
export const CAPABILITIES = ['VIEW', 'MANAGE_WEBHOOKS', 'RETRY', 'MANAGE_API_KEYS'] as const;
export type Capability = (typeof CAPABILITIES)[number];

/**
 * Who is calling, beyond the workspace: an API key, a dashboard session a key signed in
 * (both may do everything), or a portal session a key made for someone else (its
 * capabilities, its agents).
 */
export type Access = {
  kind: 'key' | 'session' | 'portal';
  /** The agents whose rows the caller sees; null: every agent of the workspace. */
  agentIds: readonly string[] | null;
  capabilities: ReadonlySet<Capability>;
  /** The API key behind the caller: itself, or the key that made the session. */
  keyId: string;
  /** When a session ends (its open streams end then too); undefined for a key. */
  expiresAt?: Date;
};

export const ALL_CAPABILITIES: ReadonlySet<Capability> = new Set(CAPABILITIES);

/** An API key's own access: everything, every agent. */
export function keyAccess(keyId: string): Access {
  return { kind: 'key', agentIds: null, capabilities: ALL_CAPABILITIES, keyId };
}
