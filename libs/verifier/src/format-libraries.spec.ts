/*
 * Issue 13 goal 4: importing the verifier (as every app does at start-up) loads no credential-format library;
 * they load at the first presentation. The mocks throw when required, so an eager import fails this spec.
 */
jest.mock('@owf/mdoc', () => {
  throw new Error('@owf/mdoc was loaded');
});
jest.mock('@sd-jwt/sd-jwt-vc', () => {
  throw new Error('@sd-jwt/sd-jwt-vc was loaded');
});

describe('credential-format libraries load on first use', () => {
  it('@fpa/verifier and @fpa/openid4vp import without them', () => {
    expect(() => jest.requireActual('./index')).not.toThrow();
    expect(() => jest.requireActual('../../openid4vp/src/index')).not.toThrow();
  });

  it('and are required when a presentation needs them', () => {
    const { mdocLibrary, sdJwtVcLibrary } = jest.requireActual<typeof import('./format-libraries')>('./format-libraries');
    expect(() => mdocLibrary()).toThrow('@owf/mdoc was loaded');
    expect(() => sdJwtVcLibrary()).toThrow('@sd-jwt/sd-jwt-vc was loaded');
  });
});
