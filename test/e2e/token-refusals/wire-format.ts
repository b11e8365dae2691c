import { clientCredentialsForm, rawPost } from '../../support/http';
import type { TokenRefusals } from '../../support/token-refusals';

/** Part of token-refusals.e2e-spec.ts: grant type and wire format (GEN-1, CONTRACT §2). */
export function wireFormatRefusals(t: TokenRefusals): void {
  const { expectRefused, proof, send, tokenUrl } = t;

  describe('grant type and wire format (GEN-1, CONTRACT §2)', () => {
    it('GEN-1 unknown grant_type → 400 unsupported_grant_type', async () => {
      await expectRefused(async () => send({ ...(await clientCredentialsForm(t.device)), grant_type: 'password' }, await proof()), 400, 'unsupported_grant_type', []);
    });

    it('GEN-1 missing grant_type → 400 invalid_request', async () => {
      const { grant_type: _omit, ...form } = await clientCredentialsForm(t.device);
      await expectRefused(async () => send(form, await proof()), 400, 'invalid_request', []);
    });

    it('CONTRACT-2 repeated client_assertion → 400 invalid_request', async () => {
      const body = new URLSearchParams(await clientCredentialsForm(t.device));
      body.append('client_assertion', await t.device.clientAssertion());
      await expectRefused(async () => rawPost(tokenUrl(), body.toString(), { 'content-type': 'application/x-www-form-urlencoded', dpop: await proof() }), 400, 'invalid_request', []);
    });

    it('CONTRACT-2 repeated grant_type → 400 invalid_request', async () => {
      const body = new URLSearchParams(await clientCredentialsForm(t.device));
      body.append('grant_type', 'client_credentials');
      await expectRefused(async () => rawPost(tokenUrl(), body.toString(), { 'content-type': 'application/x-www-form-urlencoded', dpop: await proof() }), 400, 'invalid_request', []);
    });

    it('CONTRACT-2 JSON body instead of a form → 400 invalid_request', async () => {
      const form = await clientCredentialsForm(t.device);
      await expectRefused(async () => rawPost(tokenUrl(), JSON.stringify(form), { 'content-type': 'application/json', dpop: await proof() }), 400, 'invalid_request', []);
    });
  });
}
