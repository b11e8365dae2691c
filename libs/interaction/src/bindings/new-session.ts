import type { AppConfig } from '@fpa/config';
import { randomToken } from '@fpa/crypto';
import type { ValidatedDpopProof } from '@fpa/dpop';
import type { DeviceSession, DeviceSessionRepository } from '@fpa/session';
import type { PendingSession } from './caller';

/**
 * A session a first request creates at the endpoint, bound to its DPoP key (FIPA-24/26), stored
 * only once the request proves valid (`pending.persist`), removed again if it is refused after all.
 */
export function newBoundSession(
  kind: 'challenge' | 'federated',
  clientId: string,
  proof: Pick<ValidatedDpopProof, 'jkt' | 'jwk'>,
  nowMs: number,
  config: Pick<AppConfig, 'challenge' | 'sessions'>,
  sessions: Pick<DeviceSessionRepository, 'create' | 'discardUnused'>,
  ip: string,
): { session: DeviceSession; pending: PendingSession } {
  const session: DeviceSession = {
    // FIPA-24: 256 bits from the CSPRNG.
    authSession: randomToken(32),
    clientId,
    keyJkt: proof.jkt,
    publicJwk: proof.jwk as DeviceSession['publicJwk'],
    keyAlg: 'dpop',
    status: 'active',
    createdAt: new Date(nowMs),
    expiresAt: new Date(nowMs + config.challenge.sessionTtlSeconds * 1000),
    absoluteExpiresAt: new Date(nowMs + config.sessions.maxLifetimeSeconds * 1000),
    kind,
    user: undefined,
  };
  const pending = {
    persisted: false,
    async persist(): Promise<void> {
      if (pending.persisted) return;
      await sessions.create({ ...session, registeredIp: ip });
      pending.persisted = true;
    },
    async discard(): Promise<void> {
      if (!pending.persisted) return;
      await sessions.discardUnused(session.authSession);
      pending.persisted = false;
    },
  };
  return { session, pending };
}
