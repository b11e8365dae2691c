export { verifyMdocPresentation } from './verify-mdoc-presentation';
export type { MdocExpectations, MdocRefusal, MdocRefusalCode, MdocVerification, VerifiedMdoc } from './verify-mdoc-presentation';
export { buildMdocSessionTranscript, SessionTranscriptInputError } from './session-transcript';
export type { MdocSessionTranscriptInput } from './session-transcript';
export { verifyIssuerChain, IssuerTrustError } from './issuer-trust';
