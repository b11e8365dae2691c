import { detailsForToken } from './authorization-details-policy';
import { testClient, testDetails } from './testing/fakes';

const registry = testDetails();
const client = testClient({ authorizationDetailsTypes: ['payment_initiation', 'account_information'] });
const payment = { type: 'payment_initiation', actions: ['initiate'], instructedAmount: { currency: 'EUR', amount: '123.50' }, creditorName: 'Merchant A', creditorAccount: { iban: 'DE02120300000000202051' } };
const balances = { type: 'account_information', actions: ['read_balances'] };
const granted = [payment, balances];
const refused = (f: () => unknown): void => expect(f).toThrow(expect.objectContaining({ code: 'invalid_authorization_details' }));

describe('detailsForToken (RFC 9396 §6, RAR-5)', () => {
  it('without a parameter: everything granted, or nothing when nothing was', () => {
    expect(detailsForToken(registry, client, granted, undefined)).toEqual(granted);
    expect(detailsForToken(registry, client, null, undefined)).toBeUndefined();
    expect(detailsForToken(registry, client, [], undefined)).toBeUndefined();
  });

  it('RAR-5: a subset of the granted objects is what the token carries', () => {
    expect(detailsForToken(registry, client, granted, JSON.stringify([balances]))).toEqual([balances]);
    expect(detailsForToken(registry, client, granted, JSON.stringify(granted))).toEqual(granted);
  });

  it('RAR-5: anything broader — an object not granted, or a granted one edited — is invalid_authorization_details', () => {
    refused(() => detailsForToken(registry, client, [balances], JSON.stringify([payment])));
    refused(() => detailsForToken(registry, client, granted, JSON.stringify([{ ...payment, instructedAmount: { currency: 'EUR', amount: '999.00' } }])));
    refused(() => detailsForToken(registry, client, [balances], JSON.stringify([{ type: 'account_information', actions: ['read_balances', 'read_transactions'] }])));
  });

  it('RAR-4: unknown, malformed, or not allowed for this client is invalid_authorization_details; so is asking a grant that has none', () => {
    refused(() => detailsForToken(registry, client, granted, JSON.stringify([{ type: 'wire_transfer' }])));
    refused(() => detailsForToken(registry, client, granted, 'not json'));
    refused(() => detailsForToken(registry, testClient({ authorizationDetailsTypes: ['account_information'] }), granted, JSON.stringify([payment])));
    refused(() => detailsForToken(registry, client, null, JSON.stringify([balances])));
  });
});
