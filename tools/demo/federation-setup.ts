/**
 * The federation demo's two suites, written as an operator would write them (docs/federation.md):
 * AS1's first-party app `fed-app` with a routing policy, AS1's downstream registry naming AS2, and
 * AS1 registered at AS2 as a confidential `private_key_jwt` client (keys from AS1's /federation/jwks).
 */
export interface DemoServer {
  readonly name: 'as1' | 'as2';
  readonly port: number;
  readonly issuer: string;
  /** Files written into its DATA_DIR, and the variable that names each. */
  readonly files: Readonly<Record<string, unknown>>;
  readonly fileVars: Readonly<Record<string, string>>;
}

/** The app's claimed link (FED-3): trusted by AS1 for fed-app and by AS2 for AS1 (allow-lists). */
export const DEMO_CALLBACK = 'https://fed-app.example/native-callback';
/** AS2's own app, which takes over when AS2 answers redirect_to_app (the embedded default's first-party client). */
export const DEMO_AS2_APP = 'demo-app';
export const DEMO_DEEP_LINK = 'https://as2-app.example/native-authorization';

/** The pair on `http://localhost:<port>` (the launcher), or on any two issuers (the e2e test runs exactly this setup). */
export function federationDemo(as1: string, as2: string): { readonly as1: DemoServer; readonly as2: DemoServer } {
  const port = (issuer: string): number => Number(new URL(issuer).port);
  return {
    as1: {
      name: 'as1',
      port: port(as1),
      issuer: as1,
      fileVars: { 'clients.json': 'CLIENTS_FILE', 'downstreams.json': 'FEDERATION_DOWNSTREAMS_FILE' },
      files: {
        'downstreams.json': [{ issuer: as2, client_id: 'as1', scope: 'openid', trust: { amr: ['otp', 'hwk', 'swk', 'user'], acr: {} } }],
        'clients.json': [
          {
            client_id: 'fed-app',
            name: 'Federating demo app',
            type: 'public',
            first_party: true,
            auth_methods: ['none'],
            grant_types: ['authorization_code', 'refresh_token'],
            scopes: ['openid'],
            dpop_bound_access_tokens: true,
            native_callback_uris: [DEMO_CALLBACK],
            routing_policy: {
              rounds: [
                { options: { bank: { title: 'Your bank', description: 'Where you sign in', values: { 'bank-b': { name: 'Bank B (AS2)' }, other: { name: 'Another bank' } } } } },
                { inputs: { email: { title: 'Your e-mail', hint: 'name@bank-b.example' } } },
              ],
              routes: [
                { when: { bank: 'bank-b' }, federate: as2 },
                { when: { email_domain: 'bank-b.example' }, federate: as2 },
                { local: true },
              ],
            },
          },
        ],
      },
    },
    as2: {
      name: 'as2',
      port: port(as2),
      issuer: as2,
      fileVars: { 'clients.json': 'CLIENTS_FILE' },
      files: {
        'clients.json': [
          {
            client_id: 'as1',
            name: 'AS1 (federating)',
            type: 'confidential',
            first_party: false,
            auth_methods: ['private_key_jwt'],
            grant_types: ['authorization_code'],
            scopes: ['openid'],
            jwks_uri: `${as1}/federation/jwks`,
            // FED-16: a federating caller gets only the methods listed here.
            challenge_policy: { methods: ['email_otp'] },
            native_callback_uris: [DEMO_CALLBACK],
            // FED-8: a request with a native_callback_uri goes to AS2's own app.
            redirect_to_app: { deep_link: DEMO_DEEP_LINK, app_client_ids: [DEMO_AS2_APP] },
          },
        ],
      },
    },
  };
}
