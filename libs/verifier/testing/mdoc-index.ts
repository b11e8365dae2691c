export { createTestMdocIssuer, DEFAULT_MDL_ELEMENTS, MDL_DOCTYPE, MDL_NAMESPACE } from './mdoc-issuer';
export type { IssueOptions, TestMdocIssuer } from './mdoc-issuer';
export { createTestMdocHolder } from './mdoc-holder';
export type { HolderTranscript, PresentOptions, TestMdocHolder } from './mdoc-holder';
