import { assertionAudienceAccepted, assertionAudienceOf } from './assertion-audience';
import { testClient } from './testing/fakes';

const ISSUER = 'https://auth.example.com';
const TOKEN = `${ISSUER}/token`;

describe('assertion audience (JWTCA-4, JWTCA-9)', () => {
  it.each([
    [ISSUER, true, true],
    [[ISSUER], true, true],
    [TOKEN, false, true],
    [[TOKEN], false, true],
    [[ISSUER, TOKEN], false, true],
    [`${ISSUER}/`, false, false],
    [`${ISSUER}/par`, false, false],
    [[ISSUER, 'https://evil.example.com'], false, false],
    [[ISSUER, ISSUER.toUpperCase()], false, false],
    [[], false, false],
    [[ISSUER, 42], false, false],
    [undefined, false, false],
    [42, false, false],
  ])('aud %j → issuer: %s, issuer_or_endpoint: %s', (aud, strict, lenient) => {
    expect(assertionAudienceAccepted(aud, ISSUER, TOKEN, 'issuer')).toBe(strict);
    expect(assertionAudienceAccepted(aud, ISSUER, TOKEN, 'issuer_or_endpoint')).toBe(lenient);
  });

  it('a client’s own rule wins over the deployment default', () => {
    expect(assertionAudienceOf(testClient(), true)).toBe('issuer');
    expect(assertionAudienceOf(testClient(), false)).toBe('issuer_or_endpoint');
    expect(assertionAudienceOf(testClient({ assertionAudience: 'issuer' }), false)).toBe('issuer');
    expect(assertionAudienceOf(testClient({ assertionAudience: 'issuer_or_endpoint' }), true)).toBe('issuer_or_endpoint');
  });
});
