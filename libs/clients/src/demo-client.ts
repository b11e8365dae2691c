/** The first-party public client the embedded default creates on first start (CONTRACT §8). */
export const DEMO_CLIENT = {
  client_id: 'demo-app',
  name: 'Demo first-party app',
  type: 'public',
  first_party: true,
  grant_types: ['fp_register', 'client_credentials', 'refresh_token', 'authorization_code'],
  auth_methods: ['private_key_jwt', 'none'],
  scopes: ['openid', 'profile', 'demo.read'],
  dpop_bound_access_tokens: true,
} as const;
