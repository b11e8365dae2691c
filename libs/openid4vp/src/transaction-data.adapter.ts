import type { CredentialPolicy, JsonQuery } from './credential-policy';

export class TransactionDataMappingError extends Error {}

/**
 * LOCAL ADAPTER (issue 11; the lead switches it to libs/verifier's
 * `mapAuthorizationDetailsToTransactionData` when that lands): RAR `authorization_details`
 * (RFC 9396, already validated by the RAR work) → OpenID4VP `transaction_data` (WALLET-3, VP-4).
 * Each entry becomes base64url JSON `{type, credential_ids, ...the detail's members but type}`
 * per the configured mapping of its type; a type without a mapping cannot be approved with a
 * credential and is refused.
 */
export function authorizationDetailsToTransactionData(details: readonly Readonly<Record<string, unknown>>[] | undefined, policy: CredentialPolicy, query: JsonQuery): string[] | undefined {
  if (!details || details.length === 0) return undefined;
  const allIds = ((query.credentials as { id: string }[] | undefined) ?? []).map((c) => c.id);
  return details.map((d) => {
    const type = typeof d.type === 'string' ? d.type : '';
    const m = policy.transactionData.get(type);
    if (!m) throw new TransactionDataMappingError(`authorization_details of type ${type.slice(0, 64)} cannot be approved with a credential`);
    const ids = m.credentialIds ?? allIds;
    const { type: _omit, ...rest } = d;
    void _omit;
    return Buffer.from(JSON.stringify({ type: m.type, credential_ids: ids, ...rest })).toString('base64url');
  });
}
