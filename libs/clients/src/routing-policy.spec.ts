import { parseClientDefinition } from './client-definition';
import { routingPolicyProblems } from './routing-policy';

const ROUNDS = [{ options: { bank: { title: 'Bank', values: { a: { name: 'Bank A' }, other: { name: 'Other' } } } } }, { inputs: { email: { title: 'E-mail' } } }];

describe('routing_policy (issue 10; FED-6/7)', () => {
  it('accepts rounds of options and e-mail/phone inputs, routes by option and e-mail domain', () => {
    expect(routingPolicyProblems({ rounds: ROUNDS, routes: [{ when: { bank: 'a' }, federate: 'https://as.a.example' }, { when: { email_domain: 'b.example' }, federate: 'https://as.b.example' }, { local: true }] })).toEqual([]);
    expect(routingPolicyProblems(undefined)).toEqual([]);
  });

  it('FED-7: any free-text input other than email and phone is refused when the policy is loaded', () => {
    for (const key of ['password', 'otp', 'code', 'username']) {
      expect(routingPolicyProblems({ rounds: [{ inputs: { [key]: { title: 'x' } } }], routes: [{ local: true }] }).join()).toMatch(/only email and phone/);
    }
    expect(routingPolicyProblems({ rounds: [{ inputs: { phone: { title: 'Phone' } } }], routes: [{ local: true }] })).toEqual([]);
  });

  it('refuses routes that name unknown options, values, or email_domain without an e-mail round; and malformed targets', () => {
    const bad = (routes: unknown[]) => routingPolicyProblems({ rounds: [ROUNDS[0]], routes }).join('; ');
    expect(bad([{ when: { segment: 'x' }, local: true }])).toMatch(/no option/);
    expect(bad([{ when: { bank: 'z' }, local: true }])).toMatch(/not one of its values/);
    expect(bad([{ when: { email_domain: 'b.example' }, local: true }])).toMatch(/asks for email/);
    expect(bad([{ local: true, federate: 'https://x.example' }])).toMatch(/exactly one/);
    expect(bad([{ federate: 'ftp://x.example' }])).toMatch(/issuer URL/);
    expect(bad([])).toMatch(/non-empty/);
  });

  it('an option may not take a name the endpoint already uses, nor be logo-less http', () => {
    expect(routingPolicyProblems({ rounds: [{ options: { code: { title: 'x', values: { a: { name: 'A' } } } } }], routes: [{ local: true }] }).join()).toMatch(/usable parameter name/);
    expect(routingPolicyProblems({ rounds: [{ logo: 'http://x.example/l.png', options: ROUNDS[0].options }], routes: [{ local: true }] }).join()).toMatch(/logo/);
  });

  it('is part of the client definition, for first-party clients only', () => {
    const base = { client_id: 'app', type: 'public', first_party: true, routing_policy: { rounds: ROUNDS, routes: [{ local: true }] } };
    expect(parseClientDefinition(base).routing_policy).toBeDefined();
    expect(() => parseClientDefinition({ ...base, first_party: false })).toThrow(/first-party/);
    expect(() => parseClientDefinition({ ...base, routing_policy: { rounds: [{ inputs: { password: { title: 'p' } } }], routes: [{ local: true }] } })).toThrow(/only email and phone/);
  });
});
