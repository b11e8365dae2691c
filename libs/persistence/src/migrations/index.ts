import { Initial1763800000000 } from './1763800000000-initial';
import { UserAuthentication1763900000000 } from './1763900000000-user-authentication';
import { Assurance1764000000000 } from './1764000000000-assurance';
import { ClientAssertionAudience1764100000000 } from './1764100000000-client-assertion-audience';
import { StoreGenerations1764300000000 } from './1764300000000-store-generations';
import { Janitor1764400000000 } from './1764400000000-janitor';
import { ClientMetadata1764500000000 } from './1764500000000-client-metadata';
import { BrowserSessions1764510000000 } from './1764510000000-browser-sessions';
import { RefreshTokenAuthorizationDetails1764700000000 } from './1764700000000-refresh-token-authorization-details';
import { FederatedDownstream1764810000000 } from './1764810000000-federated-downstream';
import { OpenIdFederation1764820000000 } from './1764820000000-openid-federation';
import { Federation1764830000000 } from './1764830000000-federation';
import { DigitalCredentials1764900000000 } from './1764900000000-digital-credentials';
import { PopTokens1764910000000 } from './1764910000000-pop-tokens';

/** Every migration, in order. Explicit imports: entity/migration globs break in monorepo builds (STYLE.md). */
export const MIGRATIONS = [
  Initial1763800000000,
  UserAuthentication1763900000000,
  Assurance1764000000000,
  ClientAssertionAudience1764100000000,
  StoreGenerations1764300000000,
  Janitor1764400000000,
  ClientMetadata1764500000000,
  BrowserSessions1764510000000,
  RefreshTokenAuthorizationDetails1764700000000,
  FederatedDownstream1764810000000,
  OpenIdFederation1764820000000,
  Federation1764830000000,
  DigitalCredentials1764900000000,
  PopTokens1764910000000,
];
