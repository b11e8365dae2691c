/** The first-party public client the embedded default creates on first start (CONTRACT §8). */
export const DEMO_CLIENT = {
  client_id: 'demo-app',
  name: 'Demo first-party app',
  type: 'public',
  first_party: true,
  grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'],
  auth_methods: ['private_key_jwt', 'none'],
  scopes: ['openid', 'profile', 'demo.read'],
  // `npm run demo -- --wallet`: the payment approved with a credential (issue 11 §4, §5).
  authorization_details_types: ['payment_initiation'],
  dpop_bound_access_tokens: true,
} as const;

/**
 * The embedded default's browser demo client (`npm run demo -- --browser`): a public client that is
 * not first-party — so the consent screen shows — with a loopback redirect URI on any port (RFC 8252
 * §7.3) and the example RAR types.
 */
export const DEMO_WEB_CLIENT = {
  client_id: 'demo-web',
  name: 'Demo web app (third party)',
  type: 'public',
  first_party: false,
  grant_types: ['authorization_code', 'refresh_token'],
  auth_methods: ['none'],
  scopes: ['openid', 'profile', 'demo.read'],
  redirect_uris: ['http://127.0.0.1/callback'],
  authorization_details_types: ['payment_initiation', 'account_information'],
  dpop_bound_access_tokens: false,
} as const;
