import type { AuthorizationDetailsRegistry } from '@fpa/authz-request';
import type { ClientRegistry } from '@fpa/clients';
import type { KeyManager } from '@fpa/keys';
import type { AuditService } from '@fpa/platform';
import type { AuthorizationCodeService, DeviceSessionCache, DeviceSessionRepository, RefreshTokenService, RevocationService } from '@fpa/session';

/**
 * What the token service needs from storage and from the platform, each narrowed to the methods it
 * calls (fosite's storage ports beside the handlers). Providers are injected by their class
 * (`@Inject(DeviceSessionRepository)`); unit specs hand in small fakes of these shapes.
 */
export type ClientLookup = Pick<ClientRegistry, 'find'>;
export type SessionLookup = Pick<DeviceSessionRepository, 'find'>;
/** Device sessions for client authentication: cached, confirmed by the request's claim round trip. */
export type SessionSource = Pick<DeviceSessionCache, 'enabled' | 'lookup' | 'read' | 'remember' | 'forget' | 'watchKeys' | 'isCurrent'>;
export type AuthorizationCodeStore = Pick<AuthorizationCodeService, 'find' | 'findWithSession' | 'redeem'>;
export type RefreshTokenStore = Pick<RefreshTokenService, 'find' | 'issue' | 'rotate' | 'revokeFamily'>;
export type AccessTokenRevoker = Pick<RevocationService, 'revokeAccessTokens'>;
export type AuditTrail = Pick<AuditService, 'record'>;
export type AccessTokenSigner = Pick<KeyManager, 'sign'>;
export type DetailsNarrower = Pick<AuthorizationDetailsRegistry, 'parse' | 'narrow'>;
