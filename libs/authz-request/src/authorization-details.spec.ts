import { AuthorizationDetailsConfigError, AuthorizationDetailsRegistry, canonical } from './authorization-details';
import { EXAMPLE_DETAIL_TYPES } from './examples/authorization-details';

const registry = new AuthorizationDetailsRegistry(EXAMPLE_DETAIL_TYPES);
const BOTH = ['payment_initiation', 'account_information'];
const payment = {
  type: 'payment_initiation',
  actions: ['initiate'],
  instructedAmount: { currency: 'EUR', amount: '123.50' },
  creditorName: 'Merchant A',
  creditorAccount: { iban: 'DE02120300000000202051' },
};
const refused = (f: () => unknown): void => expect(f).toThrow(expect.objectContaining({ code: 'invalid_authorization_details' }));

describe('AuthorizationDetailsRegistry (RFC 9396)', () => {
  it('RAR-8: lists the types it knows', () => {
    expect(registry.types).toEqual(BOTH);
  });

  it('RAR-1: a JSON array (string or parsed), every object valid against its type', () => {
    expect(registry.parse(JSON.stringify([payment]), BOTH)).toEqual([payment]);
    expect(registry.parse([payment, { type: 'account_information', actions: ['read_balances'] }], BOTH)).toHaveLength(2);
  });

  it('RAR-4: unknown type, unknown member, wrong JSON type, invalid value, missing member → invalid_authorization_details', () => {
    refused(() => registry.parse([{ type: 'wire_transfer' }], BOTH));
    refused(() => registry.parse([{ ...payment, extra: 1 }], BOTH));
    refused(() => registry.parse([{ ...payment, creditorName: 42 }], BOTH));
    refused(() => registry.parse([{ ...payment, instructedAmount: { currency: 'euro', amount: '1' } }], BOTH));
    refused(() => registry.parse([{ type: 'payment_initiation', creditorName: 'x' }], BOTH));
  });

  it('RAR-8: a type the client may not request is refused like an unknown one', () => {
    refused(() => registry.parse([payment], ['account_information']));
  });

  it('refuses what is not a non-empty array of objects, too many objects, or too much JSON', () => {
    for (const bad of ['{}', '[]', 'not json', '[1]', '[null]', JSON.stringify([{ type: 7 }])]) refused(() => registry.parse(bad, BOTH));
    refused(() => registry.parse(JSON.stringify(Array.from({ length: 11 }, () => ({ type: 'account_information', actions: ['list_accounts'] }))), BOTH));
    refused(() => registry.parse(`[${' '.repeat(9000)}]`, BOTH));
  });

  it('RAR-5: a token request narrows by choosing among the granted objects, never by editing one', () => {
    const read = { type: 'account_information', actions: ['read_balances'] };
    const granted = [payment, read];
    expect(registry.narrow(granted, [read])).toEqual([read]);
    // Member order does not matter; values do (RAR-9: exact comparison).
    expect(registry.narrow(granted, [{ actions: ['read_balances'], type: 'account_information' }])).toHaveLength(1);
    refused(() => registry.narrow(granted, [{ ...payment, instructedAmount: { currency: 'EUR', amount: '999.00' } }]));
    expect(canonical({ b: 1, a: [2, { d: 3, c: 4 }] })).toBe('{"a":[2,{"c":4,"d":3}],"b":1}');
  });

  it('RAR-5 (RFC 9396 §6.1): type-specific — a narrowable array may shrink to a non-empty subset; anything else stays equal', () => {
    const accounts = { type: 'account_information', actions: ['list_accounts', 'read_balances'], locations: ['https://bank.example.com/a', 'https://bank.example.com/b'] };
    expect(registry.narrow([accounts], [{ ...accounts, actions: ['read_balances'] }])).toEqual([{ ...accounts, actions: ['read_balances'] }]);
    expect(registry.narrow([accounts], [{ ...accounts, locations: ['https://bank.example.com/b'], actions: ['list_accounts'] }])).toHaveLength(1);
    refused(() => registry.narrow([accounts], [{ ...accounts, actions: ['read_transactions'] }]));
    refused(() => registry.narrow([accounts], [{ ...accounts, actions: [] }]));
    // Dropping a member is not narrowing (it could mean "any"): members stay the same.
    refused(() => registry.narrow([accounts], [{ type: 'account_information', actions: ['read_balances'] }]));
    // A member that is not narrowable (the payment's amount, creditor) must be equal.
    refused(() => registry.narrow([payment], [{ ...payment, creditorName: 'Merchant B' }]));
    // A type may declare its own narrowable members, or none.
    const strict = new AuthorizationDetailsRegistry({ account_information: { ...EXAMPLE_DETAIL_TYPES.account_information, narrowable: [] } });
    refused(() => strict.narrow([accounts], [{ ...accounts, actions: ['read_balances'] }]));
    expect(() => new AuthorizationDetailsRegistry({ account_information: { ...EXAMPLE_DETAIL_TYPES.account_information, narrowable: ['type'] } })).toThrow(AuthorizationDetailsConfigError);
  });

  it('a deployment whose schemas leave objects open, or do not pin their type, does not start', () => {
    expect(() => new AuthorizationDetailsRegistry({ open: { schema: { type: 'object', required: ['type'], properties: { type: { const: 'open' } } } } })).toThrow(AuthorizationDetailsConfigError);
    expect(() => new AuthorizationDetailsRegistry({ loose: { schema: { type: 'object', additionalProperties: false, properties: { type: { type: 'string' } } } } })).toThrow(AuthorizationDetailsConfigError);
    expect(() => new AuthorizationDetailsRegistry({ 'bad type': { schema: {} } })).toThrow(AuthorizationDetailsConfigError);
  });
});
