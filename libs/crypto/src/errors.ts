/** Crypto-level failures carry a stable machine reason (for metrics) and a safe human message. */
export class CryptoInputError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'CryptoInputError';
  }
}
