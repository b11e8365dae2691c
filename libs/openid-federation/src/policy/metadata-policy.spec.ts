import { MetadataPolicyError } from '../chain/trust-chain-error';
import { applyPolicy } from './apply-policy';
import { combineChainPolicies, combinePolicies } from './combine-policies';

const RP = 'openid_relying_party';
const rp = (params: Record<string, unknown>) => ({ [RP]: params });
const policy = (params: Record<string, Record<string, unknown>>) => ({ [RP]: params });

describe('metadata_policy (OpenID Federation 1.0 §6.1, FED-4)', () => {
  describe('applying each operator (§6.1.4.2)', () => {
    it('value sets a parameter, and null removes it', () => {
      expect(applyPolicy(rp({ a: 1, b: 2 }), policy({ a: { value: 5 }, b: { value: null } }))).toEqual(rp({ a: 5 }));
    });

    it('add unions into an array, or sets it when absent', () => {
      expect(applyPolicy(rp({ contacts: ['a'] }), policy({ contacts: { add: ['b', 'a'] }, other: { add: ['x'] } }))).toEqual(rp({ contacts: ['a', 'b'], other: ['x'] }));
    });

    it('default fills only a missing parameter', () => {
      expect(applyPolicy(rp({ a: 'mine' }), policy({ a: { default: 'd' }, b: { default: 'd' } }))).toEqual(rp({ a: 'mine', b: 'd' }));
    });

    it('one_of accepts a listed value and refuses another', () => {
      expect(applyPolicy(rp({ alg: 'ES256' }), policy({ alg: { one_of: ['ES256', 'PS256'] } }))).toEqual(rp({ alg: 'ES256' }));
      expect(() => applyPolicy(rp({ alg: 'RS256' }), policy({ alg: { one_of: ['ES256'] } }))).toThrow(MetadataPolicyError);
    });

    it('subset_of keeps the intersection and removes the parameter when nothing is left', () => {
      const p = policy({ redirect_uris: { subset_of: ['https://a.example/cb', 'https://b.example/cb'] } });
      expect(applyPolicy(rp({ redirect_uris: ['https://a.example/cb', 'https://evil.example/cb'] }), p)).toEqual(rp({ redirect_uris: ['https://a.example/cb'] }));
      expect(applyPolicy(rp({ redirect_uris: ['https://evil.example/cb'] }), p)).toEqual(rp({}));
    });

    it('superset_of refuses an array missing a required value', () => {
      const p = policy({ grant_types: { superset_of: ['authorization_code'] } });
      expect(applyPolicy(rp({ grant_types: ['authorization_code', 'refresh_token'] }), p)).toEqual(rp({ grant_types: ['authorization_code', 'refresh_token'] }));
      expect(() => applyPolicy(rp({ grant_types: ['refresh_token'] }), p)).toThrow('must hold every value');
    });

    it('essential refuses a missing parameter — also one that subset_of emptied', () => {
      expect(() => applyPolicy(rp({}), policy({ redirect_uris: { essential: true } }))).toThrow('essential and missing');
      expect(() => applyPolicy(rp({ redirect_uris: ['https://x/cb'] }), policy({ redirect_uris: { subset_of: ['https://y/cb'], essential: true } }))).toThrow('essential and missing');
      expect(applyPolicy(rp({}), policy({ redirect_uris: { essential: false } }))).toEqual(rp({}));
    });

    it('ignores policies for entity types the metadata does not have', () => {
      expect(applyPolicy({ oauth_client: { a: 1 } }, policy({ a: { essential: true } }))).toEqual({ oauth_client: { a: 1 } });
    });

    it('refuses an array operator applied to a scalar parameter', () => {
      expect(() => applyPolicy(rp({ redirect_uris: 'https://x/cb' }), policy({ redirect_uris: { subset_of: ['https://x/cb'] } }))).toThrow(MetadataPolicyError);
    });
  });

  describe('combining a superior’s policy with a subordinate’s (§6.1.3.1)', () => {
    it('value and default must agree', () => {
      expect(combinePolicies(policy({ a: { value: 1 } }), policy({ a: { value: 1 } }))).toEqual(policy({ a: { value: 1 } }));
      expect(() => combinePolicies(policy({ a: { value: 1 } }), policy({ a: { value: 2 } }))).toThrow('conflicts');
      expect(() => combinePolicies(policy({ a: { default: 1 } }), policy({ a: { default: 2 } }))).toThrow('conflicts');
    });

    it('add and superset_of unite; one_of and subset_of intersect', () => {
      expect(combinePolicies(policy({ a: { add: ['x'] }, s: { superset_of: ['1'] } }), policy({ a: { add: ['y'] }, s: { superset_of: ['2'] } }))).toEqual(
        policy({ a: { add: ['x', 'y'] }, s: { superset_of: ['1', '2'] } }),
      );
      expect(combinePolicies(policy({ o: { one_of: ['a', 'b'] }, s: { subset_of: ['1', '2'] } }), policy({ o: { one_of: ['b', 'c'] }, s: { subset_of: ['2', '3'] } }))).toEqual(
        policy({ o: { one_of: ['b'] }, s: { subset_of: ['2'] } }),
      );
      expect(() => combinePolicies(policy({ o: { one_of: ['a'] } }), policy({ o: { one_of: ['b'] } }))).toThrow('no value in common');
    });

    it('essential: a subordinate may raise it, never lower a superior’s true', () => {
      expect(combinePolicies(policy({ a: { essential: false } }), policy({ a: { essential: true } }))).toEqual(policy({ a: { essential: true } }));
      expect(() => combinePolicies(policy({ a: { essential: true } }), policy({ a: { essential: false } }))).toThrow('essential=false');
    });

    it('refuses operator combinations that contradict each other', () => {
      expect(() => combinePolicies(policy({ a: { value: 'x' } }), policy({ a: { one_of: ['y'] } }))).toThrow('value is not one of one_of');
      expect(() => combinePolicies(policy({ a: { value: ['x'] } }), policy({ a: { subset_of: ['y'] } }))).toThrow('value is not a subset');
      expect(() => combinePolicies(policy({ a: { subset_of: ['x'] } }), policy({ a: { superset_of: ['y'] } }))).toThrow('superset_of is not a subset');
      expect(() => combinePolicies(policy({ a: { add: ['z'] } }), policy({ a: { subset_of: ['y'] } }))).toThrow('add holds values outside');
      expect(() => combinePolicies(policy({ a: { value: null } }), policy({ a: { essential: true } }))).toThrow('conflicts with essential');
    });

    it('drops operators it does not know (their criticality is checked by the resolver)', () => {
      expect(combinePolicies(policy({ a: { regexp: '^x', essential: true } }), {})).toEqual(policy({ a: { essential: true } }));
    });

    it('a chain merges from the trust anchor down', () => {
      const merged = combineChainPolicies([policy({ redirect_uris: { subset_of: ['https://a/cb', 'https://b/cb'] } }), policy({ redirect_uris: { subset_of: ['https://b/cb', 'https://c/cb'] } })]);
      expect(merged).toEqual(policy({ redirect_uris: { subset_of: ['https://b/cb'] } }));
    });
  });
});
