import { sha256B64u } from '@fpa/crypto';

/**
 * Names of every ephemeral key, in one place, so the AS and the resource-server guard agree.
 * Client-chosen values (jti) are hashed: bounded key size, nothing reflected verbatim (DPOP-14).
 */
export const StoreKeys = {
  /** JWTCA-7: a client assertion jti is single use per client. */
  assertionJti: (clientId: string, jti: string): string => `jti:assert:${sha256B64u(`${clientId}\u0000${jti}`)}`,
  /** DPOP-14: a proof jti is single use per server realm and key. */
  dpopJti: (realm: string, jkt: string, jti: string): string => `jti:dpop:${sha256B64u(`${realm}\u0000${jkt}\u0000${jti}`)}`,
  rateLimit: (bucket: string, subject: string): string => `rl:${bucket}:${sha256B64u(subject)}`,
  /** Messages sent on `channel` in one fixed hour (`window` = hours since the epoch), per client or for everyone. */
  sendBudget: (channel: string, scope: 'client' | 'global', subject: string, window: number): string => `budget:${channel}:${scope}:${sha256B64u(subject)}:${window}`,
  /** The orchestrator's state of one challenge flow. */
  challengeFlow: (authSession: string): string => `challenge:${sha256B64u(authSession)}`,
  /** RFC 9126 request object pushed by a redirect_to_web answer (FIPA-21/22). */
  pushedRequest: (reference: string): string => `par:${sha256B64u(reference)}`,
  /** The store's generation marker (generation.ts): no TTL; its absence means the store lost its data. */
  generation: 'gen',
  /** Held by the one AS replica refilling a generation's revocation flags from PostgreSQL. */
  generationRestore: (epoch: number): string => `gen:restore:${epoch}`,
  revokedAccessToken: (jti: string): string => `revoked:at:${jti}`,
  revokedSession: (authSession: string): string => `revoked:session:${sha256B64u(authSession)}`,
  /** Set after a write to a device session's row that token requests read (user, acr/amr, expiry): in-process copies are stale. */
  changedSession: (authSession: string): string => `changed:session:${sha256B64u(authSession)}`,
};
