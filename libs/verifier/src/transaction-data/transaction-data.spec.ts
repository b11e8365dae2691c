import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_PID_VCT, TestHolder, TestSdJwtIssuer } from '@fpa/verifier/testing';
import { PresentationRefusal } from '../sd-jwt/presentation-refusal';
import { verifySdJwtPresentation } from '../sd-jwt/sd-jwt-presentation.verifier';
import {
  AuthorizationDetailsMappingError,
  mapAuthorizationDetailsToTransactionData,
  parseTransactionDataMapping,
  TransactionDataConfigError,
  type TransactionDataMapping,
} from './authorization-details-mapping';
import { decodeTransactionData, TransactionDataError, transactionDataHashes } from './transaction-data';

const EXAMPLE = JSON.parse(readFileSync(join(__dirname, 'examples/payment-initiation.transaction-data.json'), 'utf8')) as unknown;

/** RFC 9396 §2's payment, as the RAR example type of this suite accepts it. */
const payment = {
  type: 'payment_initiation',
  locations: ['https://bank.example/payments'],
  actions: ['initiate'],
  instructedAmount: { currency: 'EUR', amount: '123.50' },
  creditorName: 'Merchant A',
  creditorAccount: { iban: 'DE02100100109307118603' },
  remittanceInformationUnstructured: 'Ref Number Merchant',
};

let mapping: TransactionDataMapping;
beforeAll(() => {
  mapping = parseTransactionDataMapping(EXAMPLE);
});

const decode = (s: string) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('transactionDataHashes (VP-4)', () => {
  it('hashes each entry as sent (the base64url string), sha-256 by default', () => {
    const entries = ['eyJ0eXBlIjoieCJ9', 'eyJ0eXBlIjoieSJ9'];
    expect(transactionDataHashes(entries)).toEqual(entries.map((e) => createHash('sha256').update(e).digest('base64url')));
    expect(transactionDataHashes(entries, 'sha-256')).toEqual(transactionDataHashes(entries));
  });
  it('refuses an algorithm it does not compute', () => {
    expect(() => transactionDataHashes(['eyJ0eXBlIjoieCJ9'], 'sha-512')).toThrow(TransactionDataError);
  });
});

describe('decodeTransactionData', () => {
  it('refuses entries without type or with empty credential_ids, and what is not base64url JSON', () => {
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    expect(decodeTransactionData(enc({ type: 't', credential_ids: ['pid'] }))).toMatchObject({ type: 't' });
    for (const bad of [enc({ credential_ids: ['pid'] }), enc({ type: 't', credential_ids: [] }), enc({ type: 't' }), enc([1]), 'not base64!', enc({ type: 't', credential_ids: ['a'], transaction_data_hashes_alg: [] })]) {
      expect(() => decodeTransactionData(bad)).toThrow(TransactionDataError);
    }
  });
});

describe('parseTransactionDataMapping (configuration)', () => {
  it('reads the shipped payment_initiation example', () => {
    expect(mapping.payment_initiation).toEqual({
      type: 'urn:fpa:transaction-data:payment_initiation:1',
      credentialIds: ['pid'],
      copy: ['instructedAmount', 'creditorName', 'creditorAccount', 'remittanceInformationUnstructured', 'actions'],
      omit: ['locations'],
      hashAlgs: ['sha-256'],
    });
  });
  it.each([
    ['not an object', []],
    ['no types', {}],
    ['no type', { p: { copy: ['a'] } }],
    ['an empty copy', { p: { type: 't', copy: [] } }],
    ['a reserved member copied', { p: { type: 't', copy: ['credential_ids'] } }],
    ['type omitted', { p: { type: 't', copy: ['a'], omit: ['type'] } }],
    ['a member both copied and omitted', { p: { type: 't', copy: ['a'], omit: ['a'] } }],
    ['a member named twice', { p: { type: 't', copy: ['a', 'a'] } }],
    ['a bad credential id', { p: { type: 't', copy: ['a'], credential_ids: ['no spaces'] } }],
    ['an unknown key (typo)', { p: { type: 't', copy: ['a'], credentialIds: ['pid'] } }],
    ['only hash algorithms it cannot compute', { p: { type: 't', copy: ['a'], transaction_data_hashes_alg: ['sha-512'] } }],
  ])('refuses %s', (_name, config) => {
    expect(() => parseTransactionDataMapping(config)).toThrow(TransactionDataConfigError);
  });
});

describe('mapAuthorizationDetailsToTransactionData (WALLET-3, VP-4)', () => {
  it('maps a payment_initiation to one entry with type, credential_ids, hash algs and the copied members', () => {
    const { objects, encoded } = mapAuthorizationDetailsToTransactionData([payment], mapping, ['pid', 'mdl']);
    expect(objects).toEqual([
      {
        type: 'urn:fpa:transaction-data:payment_initiation:1',
        credential_ids: ['pid'],
        transaction_data_hashes_alg: ['sha-256'],
        instructedAmount: { currency: 'EUR', amount: '123.50' },
        creditorName: 'Merchant A',
        creditorAccount: { iban: 'DE02100100109307118603' },
        remittanceInformationUnstructured: 'Ref Number Merchant',
        actions: ['initiate'],
      },
    ]);
    expect(encoded.map(decode)).toEqual(objects);
    expect(encoded.every((e) => /^[A-Za-z0-9_-]+$/.test(e))).toBe(true);
    expect(decode(encoded[0])).not.toHaveProperty('locations');
  });

  it('uses every credential id of the request when the mapping names none', () => {
    const open = parseTransactionDataMapping({ payment_initiation: { type: 't', copy: ['instructedAmount', 'creditorName', 'creditorAccount'], omit: ['locations', 'actions', 'remittanceInformationUnstructured'] } });
    expect(mapAuthorizationDetailsToTransactionData([payment], open, ['pid', 'mdl']).objects[0].credential_ids).toEqual(['pid', 'mdl']);
  });

  it('maps several details, in order', () => {
    const second = { ...payment, creditorName: 'Merchant B' };
    const { objects } = mapAuthorizationDetailsToTransactionData([payment, second], mapping, ['pid']);
    expect(objects.map((o) => o.creditorName)).toEqual(['Merchant A', 'Merchant B']);
  });

  const refusal = (details: unknown, ids: readonly string[] = ['pid']) => {
    try {
      mapAuthorizationDetailsToTransactionData(details, mapping, ids);
    } catch (e) {
      if (e instanceof AuthorizationDetailsMappingError) return e.code;
      throw e;
    }
    return 'mapped';
  };
  it('refuses a type without a mapping', () => expect(refusal([{ type: 'account_information', actions: ['read'] }])).toBe('invalid_authorization_details'));
  it('refuses a member that would not be shown to the wallet', () => expect(refusal([{ ...payment, debtorAccount: { iban: 'DE89370400440532013000' } }])).toBe('invalid_authorization_details'));
  it('refuses when no credential of the request may approve it', () => expect(refusal([payment], ['mdl'])).toBe('invalid_authorization_details'));
  it('refuses an empty list or a detail without type', () => {
    expect(refusal([])).toBe('invalid_authorization_details');
    expect(refusal([{ creditorName: 'x' }])).toBe('invalid_authorization_details');
    expect(refusal('payment')).toBe('invalid_authorization_details');
  });
  it('does not take a mapping from the prototype chain (type "constructor")', () => expect(refusal([{ type: 'constructor' }])).toBe('invalid_authorization_details'));
});

describe('the mapped entries through a real KB-JWT (the one hash implementation)', () => {
  it('is accepted when the wallet hashed the entries as sent, refused when it hashed the decoded JSON', async () => {
    const issuer = await TestSdJwtIssuer.create();
    const holder = TestHolder.create();
    const credential = await issuer.issue({ holderJwk: holder.publicJwk });
    const { encoded } = mapAuthorizationDetailsToTransactionData([payment], mapping, ['pid']);
    const expectations = { nonce: 'n1', audience: 'x509_san_dns:auth.example.com', trustAnchors: [issuer.pki.root], allowedVcts: [TEST_PID_VCT], transactionData: encoded };
    const good = await holder.present(credential, { nonce: 'n1', aud: expectations.audience, transactionData: encoded });
    await expect(verifySdJwtPresentation(good, expectations)).resolves.toMatchObject({ keyBinding: { transaction_data_hashes: transactionDataHashes(encoded) } });
    const wrong = await holder.present(credential, {
      nonce: 'n1',
      aud: expectations.audience,
      transactionDataHashes: [createHash('sha256').update(Buffer.from(encoded[0], 'base64url')).digest('base64url')],
    });
    await expect(verifySdJwtPresentation(wrong, expectations)).rejects.toMatchObject({ reason: 'transaction_data_hashes' } satisfies Partial<PresentationRefusal>);
  });

  it('honours the entries’ transaction_data_hashes_alg when the caller names none', async () => {
    const issuer = await TestSdJwtIssuer.create();
    const holder = TestHolder.create();
    const credential = await issuer.issue({ holderJwk: holder.publicJwk });
    const only512 = Buffer.from(JSON.stringify({ type: 't', credential_ids: ['pid'], transaction_data_hashes_alg: ['sha-512'] })).toString('base64url');
    const presentation = await holder.present(credential, { nonce: 'n1', aud: 'a', transactionData: [only512], transactionDataHashesAlg: 'sha-256' });
    // The entry allows only sha-512, which the wallet did not use (and this verifier cannot compute): refused.
    await expect(verifySdJwtPresentation(presentation, { nonce: 'n1', audience: 'a', trustAnchors: [issuer.pki.root], allowedVcts: [TEST_PID_VCT], transactionData: [only512] })).rejects.toMatchObject({
      reason: 'transaction_data_hashes',
    });
  });
});
