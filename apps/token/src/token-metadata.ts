import type { AppConfig } from '@fpa/config';
import { AuthorizationCodeGrant, ClientCredentialsGrant, FpRegisterGrant, RefreshTokenGrant } from '@fpa/grants';
import { challengeMetadata } from '@fpa/interaction';
import type { MetadataPart } from '@fpa/oauth-core';
import { parMetadata } from '@fpa/par';
import { registrationMetadata } from '@fpa/registration';
import { webLoginMetadata } from '@fpa/web-login';

/** The token service's grants (CONTRACT §1). */
export const TOKEN_GRANTS = [FpRegisterGrant.plugin, ClientCredentialsGrant.plugin, RefreshTokenGrant.plugin, AuthorizationCodeGrant.plugin];

/**
 * The RFC 8414 members the other services contribute. One list for the token service (which serves
 * the document) and the federation service (which signs it into its entity configuration).
 */
export const TOKEN_METADATA: readonly ((config: AppConfig) => MetadataPart)[] = [(c) => registrationMetadata(c.http.issuer), challengeMetadata, webLoginMetadata, parMetadata];
