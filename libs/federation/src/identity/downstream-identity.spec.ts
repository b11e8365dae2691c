import { parseDownstreams, DownstreamConfigError, DownstreamRegistry } from '../downstream/downstream-registry';
import { creditedAuthentication } from './downstream-identity';

const [D] = parseDownstreams([{ issuer: 'https://as2.example', client_id: 'suite', trust: { amr: ['otp', 'hwk'], acr: { 'urn:as2:mfa': { factors: 2, phishing_resistant: true } } } }], false);

describe('creditedAuthentication: the downstream trusted only as far as configured', () => {
  it('amr: fed first, then only trusted values', () => {
    expect(creditedAuthentication(D, { subject: 's', acr: undefined, amr: ['pwd', 'otp', 'fed'], from: 'access_token' })).toEqual({ amr: ['fed', 'otp'], factors: 1, phishingResistant: false });
  });

  it('acr: a credited value brings what it proves here; any other proves one factor', () => {
    expect(creditedAuthentication(D, { subject: 's', acr: 'urn:as2:mfa', amr: ['hwk'], from: 'id_token' })).toEqual({ amr: ['fed', 'hwk'], factors: 2, phishingResistant: true });
    expect(creditedAuthentication(D, { subject: 's', acr: 'urn:as2:gold', amr: [], from: 'id_token' })).toMatchObject({ factors: 1, phishingResistant: false });
  });
});

describe('parseDownstreams (FEDERATION_DOWNSTREAMS_FILE)', () => {
  it('defaults the allowed hosts to the issuer’s, and strips a trailing slash', () => {
    const [d] = parseDownstreams([{ issuer: 'https://as2.example:8443/', client_id: 'x' }], false);
    expect(d).toMatchObject({ issuer: 'https://as2.example:8443', hosts: ['as2.example:8443'], trust: { amr: [], acr: {} } });
    expect(new DownstreamRegistry([d]).find('https://as2.example:8443/')).toBe(d);
  });

  it('refuses http outside loopback-in-development, unknown members, duplicates, bad trust', () => {
    expect(() => parseDownstreams([{ issuer: 'http://as2.example', client_id: 'x' }], true)).toThrow(DownstreamConfigError);
    expect(() => parseDownstreams([{ issuer: 'http://127.0.0.1:1', client_id: 'x' }], false)).toThrow(/https/);
    expect(parseDownstreams([{ issuer: 'http://127.0.0.1:1', client_id: 'x' }], true)).toHaveLength(1);
    expect(() => parseDownstreams([{ issuer: 'https://a.example', client_id: 'x', secret: 'y' }], false)).toThrow(/unknown members/);
    expect(() => parseDownstreams([{ issuer: 'https://a.example', client_id: 'x' }, { issuer: 'https://a.example/', client_id: 'y' }], false)).toThrow(/twice/);
    expect(() => parseDownstreams([{ issuer: 'https://a.example', client_id: 'x', trust: { acr: { gold: { factors: 3 } } } }], false)).toThrow(/factors/);
  });
});
