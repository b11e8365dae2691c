import { NativeCallbackTrust } from '@fpa/authz-request';
import type { Client } from '@fpa/clients';
import { generateClientKeyPair } from '@fpa/crypto';
import { OAuthError } from '@fpa/oauth-core';
import { OpenIdFederationCallbackTrust, statedKeys, TrustChainResolver, verifyEntityStatement } from '@fpa/openid-federation';
import type { TestEntity } from '@fpa/openid-federation/testing';
import { freePort } from '@fpa/testing';
import { startApp, type RunningApp } from '@fpa/testing/app';
import { FederationAppModule } from '../../apps/federation/src/federation-app.module';
import { FederationServers } from '../support/federation-servers';

/**
 * Issue 10 (FED-4, seed 003 "trust establishment") end to end: real OpenID Federation entities on
 * 127.0.0.1 — a trust anchor and an intermediate with fetch endpoints, leaf apps listing their
 * callback URIs — and the suite's `native_callback_uri` trust policy resolving their chains over
 * HTTP in the standalone app (PostgreSQL + Redis). Then the suite's own entity configuration,
 * fetched over HTTP, verified with its `jwks`, and itself resolvable as a leaf below the anchor.
 */
describe('OpenID Federation: native_callback_uri trust and the suite’s entity configuration', () => {
  let servers: FederationServers;
  let ta: TestEntity;
  let int: TestEntity;
  let suite: RunningApp;
  let policy: OpenIdFederationCallbackTrust;
  const client = { id: 'federated-app' } as Client;

  /** A leaf app below `superior`, listing `<origin>/cb` among its redirect_uris. */
  const leafApp = async (superior: TestEntity = int): Promise<TestEntity> => {
    const leaf = await servers.entity();
    leaf.metadata = { openid_relying_party: { client_name: 'Leaf app', redirect_uris: [`${leaf.entityId}/cb`] } };
    superior.subordinate(leaf);
    return leaf;
  };
  const refusal = async (uri: string): Promise<OAuthError> => {
    try {
      await policy.check(client, uri);
    } catch (e) {
      if (e instanceof OAuthError) return e;
      throw e;
    }
    throw new Error(`${uri} was not refused`);
  };
  const statementAbout = (superior: TestEntity, leaf: TestEntity) => superior.subordinates.get(leaf.entityId)!;

  beforeAll(async () => {
    servers = new FederationServers();
    ta = (await servers.entity()).asAuthority();
    int = (await servers.entity()).asAuthority();
    ta.subordinate(int, { metadataPolicy: { openid_relying_party: { redirect_uris: { essential: true } } } });
    suite = await startApp({
      label: 'openid_fed',
      overrides: {
        OPENID_FEDERATION_TRUST_ANCHORS: JSON.stringify([{ entity_id: ta.entityId, jwks: ta.jwks }]),
        OPENID_FEDERATION_AUTHORITY_HINTS: ta.entityId,
        OPENID_FEDERATION_ORGANIZATION_NAME: 'first-party-auth e2e',
        OPENID_FEDERATION_ALLOW_HTTP_LOOPBACK: 'true',
        OPENID_FEDERATION_MAX_CHAIN_LENGTH: '3',
        OPENID_FEDERATION_MAX_RESPONSE_BYTES: '16384',
        OPENID_FEDERATION_FETCH_TIMEOUT_MS: '1000',
      },
    });
    policy = suite.get(OpenIdFederationCallbackTrust);
  });

  afterAll(async () => {
    await suite?.close();
    await servers?.close();
  });

  it('FED-4: trusts a callback URI listed by a leaf whose chain verifies leaf → intermediate → trust anchor over HTTP', async () => {
    const leaf = await leafApp();
    const before = servers.federation.requests.length;
    await expect(policy.check(client, `${leaf.entityId}/cb`)).resolves.toBe('trusted');
    expect(servers.federation.requests.slice(before)).toEqual([
      `${leaf.entityId}/.well-known/openid-federation`,
      `${int.entityId}/.well-known/openid-federation`,
      `${int.entityId}/fetch?sub=${encodeURIComponent(leaf.entityId)}`,
      `${ta.entityId}/.well-known/openid-federation`,
      `${ta.entityId}/fetch?sub=${encodeURIComponent(int.entityId)}`,
    ]);
    // Cached until the earliest exp: a second check fetches nothing.
    const after = servers.federation.requests.length;
    await expect(policy.check(client, `${leaf.entityId}/cb`)).resolves.toBe('trusted');
    expect(servers.federation.requests).toHaveLength(after);
    // URI not listed: a definite refusal.
    const e = await refusal(`${leaf.entityId}/somewhere-else`);
    expect([e.code, e.status, e.reason]).toEqual(['invalid_request', 400, 'federation_not_listed']);
  });

  it('FED-4: the suite asks the allow-list first, then the trust chain (NativeCallbackTrust, which PAR and the native endpoint use)', async () => {
    const trust = suite.get(NativeCallbackTrust);
    const leaf = await leafApp();
    // Not on the client's allow-list: the chain decides, and says which policy did.
    await expect(trust.assertTrusted({ ...client, nativeCallbackUris: [] } as Client, `${leaf.entityId}/cb`)).resolves.toBe('openid_federation');
    // On the allow-list: no fetch at all.
    const before = servers.federation.requests.length;
    const listed = `${(await leafApp()).entityId}/cb`;
    await expect(trust.assertTrusted({ ...client, nativeCallbackUris: [listed] } as Client, listed)).resolves.toBe('allow_list');
    expect(servers.federation.requests).toHaveLength(before);
    // A chain that does not list it is a refusal, not "unknown".
    await expect(trust.assertTrusted({ ...client, nativeCallbackUris: [] } as Client, `${leaf.entityId}/elsewhere`)).rejects.toMatchObject({ code: 'invalid_request' });
    // Neither policy knows it: refused, naming the parameter.
    await expect(trust.assertTrusted({ ...client, nativeCallbackUris: [] } as Client, `${await servers.plainSite()}/cb`)).rejects.toMatchObject({ code: 'invalid_request', description: expect.stringContaining('native_callback_uri') });
  });

  it('answers unknown for an origin that is no federation entity', async () => {
    await expect(policy.check(client, `${await servers.plainSite()}/cb`)).resolves.toBe('unknown');
  });

  it('an unreachable domain is temporarily_unavailable (503 with Retry-After)', async () => {
    const e = await refusal(`http://127.0.0.1:${await freePort()}/cb`);
    expect([e.code, e.status, e.headers['Retry-After']]).toEqual(['temporarily_unavailable', 503, '30']);
  });

  describe('refusals (invalid_request, saying why)', () => {
    const refused = async (leaf: TestEntity, reason: string): Promise<void> => {
      const e = await refusal(`${leaf.entityId}/cb`);
      expect([e.code, e.status, e.reason]).toEqual(['invalid_request', 400, `federation_${reason}`]);
      expect(e.description).toContain(`no valid OpenID Federation trust chain for ${leaf.entityId}`);
    };

    it('bad signature', async () => {
      const leaf = await leafApp();
      int.subordinates.set(leaf.entityId, { ...statementAbout(int, leaf), tamper: { signWith: await generateClientKeyPair('ES256') } });
      await refused(leaf, 'bad_signature');
    });

    it('expired statement', async () => {
      const leaf = await leafApp();
      int.subordinates.set(leaf.entityId, { ...statementAbout(int, leaf), tamper: { payload: { exp: Math.floor(Date.now() / 1000) - 60 } } });
      await refused(leaf, 'expired');
    });

    it('wrong typ', async () => {
      const leaf = await leafApp();
      leaf.configurationTamper = { typ: 'JWT' };
      await refused(leaf, 'typ_mismatch');
    });

    it('unknown trust anchor', async () => {
      const rogue = (await servers.entity()).asAuthority();
      await refused(await leafApp(rogue), 'no_trust_anchor');
    });

    it('sub / iss mismatch', async () => {
      const leaf = await leafApp();
      int.subordinates.set(leaf.entityId, { ...statementAbout(int, leaf), tamper: { payload: { sub: ta.entityId } } });
      await refused(leaf, 'subject_mismatch');
      const other = await leafApp();
      int.subordinates.set(other.entityId, { ...statementAbout(int, other), tamper: { payload: { iss: ta.entityId } } });
      await refused(other, 'issuer_mismatch');
    });

    it('loop in authority_hints', async () => {
      const [a, b] = [(await servers.entity()).asAuthority(), (await servers.entity()).asAuthority()];
      a.subordinate(b);
      b.subordinate(a);
      const leaf = await leafApp(a);
      a.authorityHints = [b.entityId];
      await refused(leaf, 'loop');
    });

    it('too deep (OPENID_FEDERATION_MAX_CHAIN_LENGTH=3)', async () => {
      const [d1, d2, d3] = [(await servers.entity()).asAuthority(), (await servers.entity()).asAuthority(), (await servers.entity()).asAuthority()];
      ta.subordinate(d3);
      d3.subordinate(d2);
      d2.subordinate(d1);
      await refused(await leafApp(d1), 'too_deep');
    });

    it('metadata_policy violation', async () => {
      const leaf = await leafApp();
      int.subordinates.set(leaf.entityId, { ...statementAbout(int, leaf), metadataPolicy: { openid_relying_party: { grant_types: { superset_of: ['authorization_code'] }, redirect_uris: { essential: true } } } });
      leaf.metadata = { openid_relying_party: { ...leaf.metadata.openid_relying_party, grant_types: ['implicit'] } };
      await refused(leaf, 'metadata_policy');
    });

    it('oversized response (OPENID_FEDERATION_MAX_RESPONSE_BYTES)', async () => {
      const leaf = await leafApp();
      servers.federation.overrides.set(`${leaf.entityId}/.well-known/openid-federation`, { status: 200, contentType: 'application/entity-statement+jwt', body: 'x'.repeat(40_000) });
      await refused(leaf, 'too_large');
    });
  });

  describe('the suite’s entity configuration (CONTRACT §1, GET /.well-known/openid-federation)', () => {
    it('is a signed entity statement that verifies with its own jwks and carries the metadata', async () => {
      const res = await fetch(`${suite.issuer}/.well-known/openid-federation`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/entity-statement+jwt');
      expect(res.headers.get('cache-control')).toBe('public, max-age=300');
      const jwt = await res.text();
      const now = Math.floor(Date.now() / 1000);
      const statement = await verifyEntityStatement(jwt, await statedKeys(jwt, 65_536), { iss: suite.issuer, sub: suite.issuer, now, clockSkewSeconds: 5, maxLength: 65_536 });
      expect(JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString())).toMatchObject({ typ: 'entity-statement+jwt', alg: 'ES256' });
      expect(statement.exp - statement.iat).toBe(86_400);
      expect(statement.authorityHints).toEqual([ta.entityId]);
      expect(statement.jwks.keys).toHaveLength(1);
      expect(JSON.stringify(statement.jwks)).not.toMatch(/"d"/);
      const asMetadata = await (await fetch(`${suite.issuer}/.well-known/oauth-authorization-server`)).json();
      expect(statement.metadata.oauth_authorization_server).toEqual(asMetadata);
      expect(statement.metadata.federation_entity).toEqual({ organization_name: 'first-party-auth e2e' });
      // The private key is at rest only as a JWE under KEY_ENCRYPTION_KEY.
      const rows = await suite.env.db.query<{ kid: string; private_jwe: string }>('SELECT kid, private_jwe FROM federation_entity_keys');
      expect(rows.map((r) => r.kid)).toEqual([statement.jwks.keys[0].kid]);
      expect(JSON.parse(Buffer.from(rows[0].private_jwe.split('.')[0], 'base64url').toString())).toMatchObject({ alg: 'dir', enc: 'A256GCM' });
    });

    it('resolves as a leaf below the trust anchor that lists it (the suite in a real chain)', async () => {
      const jwt = await (await fetch(`${suite.issuer}/.well-known/openid-federation`)).text();
      ta.subordinates.set(suite.issuer, { jwks: { keys: [...(await statedKeys(jwt, 65_536)).keys] } });
      const chain = await suite.get(TrustChainResolver).resolve(suite.issuer);
      expect(chain.trustAnchor).toBe(ta.entityId);
      expect(chain.metadata.oauth_authorization_server?.issuer).toBe(suite.issuer);
    });

    it('the federation service serves the same document the token service publishes (one list of metadata parts)', async () => {
      const fed = await startApp({ label: 'openid_fed_svc', app: 'federation', env: suite.env, module: (c) => FederationAppModule.forRoot(c), overrides: { OPENID_FEDERATION_ALLOW_HTTP_LOOPBACK: 'true' } });
      try {
        const jwt = await (await fetch(`${fed.issuer}/.well-known/openid-federation`)).text();
        const statement = await verifyEntityStatement(jwt, await statedKeys(jwt, 65_536), { iss: fed.issuer, sub: fed.issuer, now: Math.floor(Date.now() / 1000), clockSkewSeconds: 5, maxLength: 65_536 });
        const standalone = await (await fetch(`${suite.issuer}/.well-known/oauth-authorization-server`)).text();
        expect(statement.metadata.oauth_authorization_server).toEqual(JSON.parse(standalone.split(suite.issuer).join(fed.issuer)));
        // Same database: the same federation entity key as the standalone app.
        expect(statement.jwks.keys.map((k) => k.kid)).toEqual([(await statedKeys(await (await fetch(`${suite.issuer}/.well-known/openid-federation`)).text(), 65_536)).keys[0].kid]);
        expect(statement.authorityHints).toEqual([]);
      } finally {
        await fed.close();
      }
    });
  });
});
