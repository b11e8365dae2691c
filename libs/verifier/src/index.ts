export * from './mdoc';
export * from './trust/x5c-chain';
export * from './sd-jwt/presentation-refusal';
export * from './sd-jwt/key-binding';
export * from './sd-jwt/sd-jwt-presentation.verifier';
export * from './dcql/dcql-match';
