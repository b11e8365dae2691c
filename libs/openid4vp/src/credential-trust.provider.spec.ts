import type { AppConfig } from '@fpa/config';
import { PresentationRefusal } from '@fpa/verifier';
import { credentialTrustFrom } from './credential-trust.provider';

const config = (mode: 'production' | 'embedded', dc: Partial<AppConfig['digitalCredentials']>): AppConfig =>
  ({ mode, digitalCredentials: { trustAnchors: undefined, metadataIssuers: [], allowHttpLoopback: false, ...dc } }) as unknown as AppConfig;

/** Why the status check of a credential pointing at `uri` was refused. */
const refusalFor = async (c: AppConfig, uri: string): Promise<PresentationRefusal> => {
  const trust = credentialTrustFrom(c);
  const err = await trust.statusLists!.check({ status_list: { idx: 0, uri } }, trust, new Date()).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(PresentationRefusal);
  return err as PresentationRefusal;
};

describe('credentialTrustFrom (issue 11: status lists and issuer metadata from configuration)', () => {
  it('always checks status (fail closed); metadata trust only for configured issuers', () => {
    const none = credentialTrustFrom(config('production', {}));
    expect(none.statusLists).toBeDefined();
    expect(none.issuerMetadata).toBeUndefined();
    expect(none.trustAnchors).toEqual([]);
    const some = credentialTrustFrom(config('production', { metadataIssuers: ['https://pid.example'] }));
    expect(some.issuerMetadata?.trustedIssuers).toEqual(['https://pid.example']);
  });

  it('plain http to a loopback host is fetched only with allowHttpLoopback, and never in production', async () => {
    const uri = 'http://127.0.0.1:1/status';
    await expect(refusalFor(config('embedded', {}), uri)).resolves.toMatchObject({ reason: 'status_unavailable', message: expect.stringMatching(/insecure_url/) });
    await expect(refusalFor(config('production', { allowHttpLoopback: true }), uri)).resolves.toMatchObject({ reason: 'status_unavailable', message: expect.stringMatching(/insecure_url/) });
    // Allowed: the fetch is attempted (nothing listens on port 1), still failing closed.
    await expect(refusalFor(config('embedded', { allowHttpLoopback: true }), uri)).resolves.toMatchObject({ reason: 'status_unavailable', message: expect.stringMatching(/network/) });
  });
});
