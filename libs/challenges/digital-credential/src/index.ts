export * from './credential-identities';
export * from './credential-identity';
export * from './digital-credential.challenge';
export * from './digital-credential.module';
