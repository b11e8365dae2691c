import { ClientDefinitionError, parseClientDefinition } from './client-definition';

const base = { client_id: 'app', type: 'public', first_party: true, grant_types: ['client_credentials'] };

describe('parseClientDefinition: assertion_audience (JWTCA-9)', () => {
  it('accepts issuer and issuer_or_endpoint, and leaves it absent by default', () => {
    expect(parseClientDefinition({ ...base, assertion_audience: 'issuer' }).assertion_audience).toBe('issuer');
    expect(parseClientDefinition({ ...base, assertion_audience: 'issuer_or_endpoint' }).assertion_audience).toBe('issuer_or_endpoint');
    expect(parseClientDefinition(base).assertion_audience).toBeUndefined();
  });

  it('refuses any other value, naming the field', () => {
    for (const value of ['endpoint', 'ISSUER', '', true, ['issuer']]) {
      expect(() => parseClientDefinition({ ...base, assertion_audience: value })).toThrow(ClientDefinitionError);
      expect(() => parseClientDefinition({ ...base, assertion_audience: value })).toThrow(/assertion_audience must be issuer or issuer_or_endpoint/);
    }
  });
});
