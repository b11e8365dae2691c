import type { RoutingPolicy } from '@fpa/clients';
import { OAuthError } from '@fpa/oauth-core';
import { decideRoute, readAnswers } from './routing-decision';

const POLICY: RoutingPolicy = {
  rounds: [
    { logo: 'https://l.example/x.png', options: { bank: { title: 'Bank', values: { a: { name: 'Bank A' }, here: { name: 'Here' }, other: { name: 'Other' } } } } },
    // A stored policy that somehow holds another input (written before FED-7): never emitted.
    { inputs: { email: { title: 'E-mail' }, password: { title: 'never' } } as never },
  ],
  routes: [
    { when: { bank: 'a' }, federate: 'https://as.a.example' },
    { when: { bank: 'here' }, local: true },
    { when: { email_domain: 'b.example' }, federate: 'https://as.b.example' },
    { local: true },
  ],
};

describe('decideRoute (issue 10, FED-6)', () => {
  it('asks the first round first, with its logo', () => {
    expect(decideRoute(POLICY, {})).toEqual({ kind: 'ask', prompt: { options: POLICY.rounds[0].options }, logo: 'https://l.example/x.png' });
  });

  it('routes by option: federate or local', () => {
    expect(decideRoute(POLICY, { bank: 'a' })).toEqual({ kind: 'federate', issuer: 'https://as.a.example' });
    expect(decideRoute(POLICY, { bank: 'here' })).toEqual({ kind: 'local' });
  });

  it('a second round when the first answer is not enough; FED-7: only email is emitted of its inputs', () => {
    expect(decideRoute(POLICY, { bank: 'other' })).toEqual({ kind: 'ask', prompt: { inputs: { email: { title: 'E-mail' } } }, logo: undefined });
  });

  it('routes by e-mail domain (case-insensitive), else the catch-all once nothing is left to ask', () => {
    expect(decideRoute(POLICY, { bank: 'other', email: 'x@B.example' })).toEqual({ kind: 'federate', issuer: 'https://as.b.example' });
    expect(decideRoute(POLICY, { bank: 'other', email: 'x@c.example' })).toEqual({ kind: 'local' });
  });

  it('refuses when no route fits and nothing is left to ask', () => {
    expect(decideRoute({ rounds: [], routes: [{ when: { bank: 'a' }, local: true }] }, {})).toEqual({ kind: 'refuse' });
  });
});

describe('readAnswers (FED-6)', () => {
  it('reads offered option values and normalised e-mail addresses; ignores other parameters', () => {
    expect(readAnswers(POLICY, { bank: 'other', email: ' Ann@Example.COM ', client_id: 'x' })).toEqual({ bank: 'other', email: expect.stringMatching(/^ann@example\.com$/i) });
  });

  it('refuses values not offered and addresses that are not addresses', () => {
    expect(() => readAnswers(POLICY, { bank: 'z' })).toThrow(OAuthError);
    expect(() => readAnswers(POLICY, { email: 'nope' })).toThrow(OAuthError);
  });
});
