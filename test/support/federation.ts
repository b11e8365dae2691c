import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDpopProof, type ClientKeyPair } from '@fpa/crypto';
import { postForm, type ChallengeClient, type FormResponse } from '@fpa/testing';

/**
 * Embedded mode on the run's PostgreSQL and Redis: http on loopback is allowed for downstream issuers
 * and `jwks_uri` (never in production), and one-time codes of local logins go to an outbox.
 */
export function embedded(): Record<string, string> {
  return { APP_MODE: 'embedded', DATA_DIR: mkdtempSync(join(tmpdir(), 'fpa-fed-data-')) };
}

/** The downstream servers a federating suite may use, written as an operator would (docs/federation.md). */
export function downstreamsFile(downstreams: readonly Record<string, unknown>[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'fpa-fed-')), 'downstreams.json');
  writeFileSync(file, JSON.stringify(downstreams, null, 2));
  return file;
}

/** The first-party app of the federating suite (AS1), with a routing policy over two rounds. */
export function federatingApp(downstream: string, others: { noNative: string; down: string; flaky: string }): Record<string, unknown> {
  return {
    client_id: 'fed-app',
    name: 'Federating App',
    type: 'public',
    first_party: true,
    auth_methods: ['none'],
    grant_types: ['authorization_code', 'refresh_token'],
    scopes: ['openid'],
    dpop_bound_access_tokens: true,
    native_callback_uris: ['https://app.example/fed-cb', 'https://app.example/not-at-downstream'],
    routing_policy: {
      rounds: [
        {
          logo: 'https://logos.example/suite.png',
          options: {
            bank: {
              title: 'Your bank',
              description: 'Where you sign in',
              values: {
                'bank-b': { name: 'Bank B', logo: 'https://logos.example/b.png' },
                here: { name: 'This app' },
                'no-native': { name: 'A bank without native sign-in' },
                down: { name: 'A bank that is down' },
                flaky: { name: 'A flaky bank' },
                other: { name: 'Another bank' },
              },
            },
          },
        },
        { inputs: { email: { title: 'Your e-mail', hint: 'name@bank.example' } } },
      ],
      routes: [
        { when: { bank: 'bank-b' }, federate: downstream },
        { when: { bank: 'here' }, local: true },
        { when: { bank: 'no-native' }, federate: others.noNative },
        { when: { bank: 'down' }, federate: others.down },
        { when: { bank: 'flaky' }, federate: others.flaky },
        { when: { email_domain: 'bank-b.example' }, federate: downstream },
        { local: true },
      ],
    },
  };
}

/** `POST /federation/callback` as the app does it: form body, a DPoP proof of `key` (one retry with the server's nonce). */
export async function postCallback(issuer: string, client: ChallengeClient, form: Record<string, string>, key: ClientKeyPair = client.key): Promise<FormResponse> {
  const htu = `${issuer}/federation/callback`;
  for (let attempt = 0; ; attempt++) {
    const res = await postForm(htu, form, { dpop: await createDpopProof(key, { htm: 'POST', htu, nonce: client.nonce }) });
    const fresh = res.headers.get('dpop-nonce');
    if (fresh) client.nonce = fresh;
    if (res.body.error === 'use_dpop_nonce' && attempt === 0) continue;
    return res;
  }
}
