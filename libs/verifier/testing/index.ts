export * from './mdoc-index';
export * from './sd-jwt-issuer';
export * from './sd-jwt-wallet';
export * from './wallet';
export { parseOpenid4vpLink, verifySignedRequest, WalletError, REQUEST_OBJECT_TYP } from './wallet-request';
export type { ParsedLink, RequestSignerTrust, WalletRequest } from './wallet-request';
export { transactionDataFor } from './wallet-present';
export type { HeldCredential } from './wallet-select';
