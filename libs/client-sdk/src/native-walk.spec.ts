import { ChallengeAbandonedError, OAuthClientError, RedirectToWebError } from './errors';
import { walkNativeAuthorization, type EndpointResponse, type WalkEvent, type WalkPort } from './native-walk';

const AS1 = 'https://as1.example/authorize-challenge';
const AS2 = 'https://as2.example/authorize-challenge';
const CALLBACK = 'https://as1.example/federation/callback';

function reply(status: number, body: Record<string, unknown>): EndpointResponse {
  return { status, body, headers: new Headers() };
}

/** A scripted pair of servers: each request is matched by URL and answered in order; every request is recorded. */
function script(answers: Record<string, EndpointResponse[]>): WalkPort & { calls: { url: string; params: Record<string, unknown>; token: string | undefined }[]; events: WalkEvent[] } {
  const calls: { url: string; params: Record<string, unknown>; token: string | undefined }[] = [];
  const events: WalkEvent[] = [];
  return {
    calls,
    events,
    request(url, params, token) {
      calls.push({ url, params, token });
      const next = answers[url]?.shift();
      if (!next) throw new Error(`unexpected request to ${url}`);
      return Promise.resolve(next);
    },
    emit: (e) => events.push(e),
  };
}

const noChallenges = { onChallenge: () => Promise.resolve(undefined) };

describe('walkNativeAuthorization (seed 003 client rules)', () => {
  it('FED-5/FED-12/FED-13: follows federate, answers the downstream challenge there, and carries its code to response_uri', async () => {
    const port = script({
      [AS1]: [reply(400, { error: 'federate', auth_session: 's1', federation_uri: AS2, federation_body: 'client_id=as1&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ar1', response_uri: CALLBACK })],
      [AS2]: [reply(403, { error: 'insufficient_authorization', auth_session: 's2', status: 'code_sent', methods: ['email_otp'] }), reply(200, { authorization_code: 'downstream-code', auth_session: 's2' })],
      [CALLBACK]: [reply(200, { authorization_code: 'home-code', auth_session: 's1' })],
    });
    const result = await walkNativeAuthorization(port, { endpoint: AS1, accessToken: 'device-token', params: { response_type: 'code' } }, { onChallenge: () => Promise.resolve({ code: '123456' }) });
    expect(result).toMatchObject({ authorizationCode: 'home-code', authSession: 's1' });
    expect(port.calls.map((c) => [c.url, c.params, c.token])).toEqual([
      [AS1, { response_type: 'code' }, 'device-token'],
      // The downstream gets exactly federation_body; the device token never leaves home.
      [AS2, { client_id: 'as1', request_uri: 'urn:ietf:params:oauth:request_uri:r1' }, undefined],
      [AS2, { code: '123456', auth_session: 's2' }, undefined],
      // The downstream's auth_session is not carried; the federating server's is.
      [CALLBACK, { authorization_code: 'downstream-code', auth_session: 's1' }, undefined],
    ]);
    expect(port.events.map((e) => e.step)).toEqual(['federate', 'challenge', 'federation_response']);
  });

  it('FED-13: a downstream error that is not handled locally goes to response_uri too; the federating server answers', async () => {
    const port = script({
      [AS1]: [reply(400, { error: 'federate', auth_session: 's1', federation_uri: AS2, federation_body: 'client_id=as1&request_uri=r', response_uri: CALLBACK })],
      [AS2]: [reply(400, { error: 'access_denied', error_description: 'no' })],
      [CALLBACK]: [reply(400, { error: 'access_denied', error_description: 'the downstream server refused', auth_session: 's1' })],
    });
    await expect(walkNativeAuthorization(port, { endpoint: AS1, accessToken: undefined, params: {} }, noChallenges)).rejects.toMatchObject({ error: 'access_denied', status: 400 });
    expect(port.calls[2]).toMatchObject({ url: CALLBACK, params: { error: 'access_denied', error_description: 'no', auth_session: 's1' } });
  });

  it('after the callback, a further challenge of the federating server is answered at its own endpoint (step-up after federation)', async () => {
    const port = script({
      [AS1]: [
        reply(400, { error: 'federate', auth_session: 's1', federation_uri: AS2, federation_body: 'client_id=as1&request_uri=r', response_uri: CALLBACK }),
        reply(200, { authorization_code: 'home-code', auth_session: 's1' }),
      ],
      [AS2]: [reply(200, { authorization_code: 'dc' })],
      [CALLBACK]: [reply(403, { error: 'insufficient_authorization', auth_session: 's1', status: 'additional_method_required', methods: ['passkey'] })],
    });
    const result = await walkNativeAuthorization(port, { endpoint: AS1, accessToken: 'tok', params: {} }, { onChallenge: () => Promise.resolve({ credential: 'x' }) });
    expect(result.authorizationCode).toBe('home-code');
    expect(port.calls[3]).toEqual({ url: AS1, params: { credential: 'x', auth_session: 's1' }, token: 'tok' });
  });

  it('FED-6/FED-7: shows only email/phone inputs, sends only what was asked with auth_session', async () => {
    const port = script({
      [AS1]: [
        reply(400, {
          error: 'insufficient_information',
          auth_session: 's1',
          logo: 'https://as1.example/logo.png',
          userPrompt: { options: { bank: { title: 'Bank', values: { a: { name: 'Bank A' } } } }, inputs: { email: { title: 'E-mail' }, password: { title: 'Password' } } },
        }),
        reply(200, { authorization_code: 'c', auth_session: 's1' }),
      ],
    });
    let seen: unknown;
    await walkNativeAuthorization(port, { endpoint: AS1, accessToken: undefined, params: {} }, {
      ...noChallenges,
      onInformation: (request) => {
        seen = request;
        return Promise.resolve({ bank: 'a', email: 'u@example.com', password: 'secret', other: 'x' });
      },
    });
    expect(seen).toEqual({ server: 'https://as1.example', authSession: 's1', logo: 'https://as1.example/logo.png', userPrompt: { options: { bank: { title: 'Bank', values: { a: { name: 'Bank A' } } } }, inputs: { email: { title: 'E-mail' } } } });
    expect(port.calls[1].params).toEqual({ bank: 'a', email: 'u@example.com', auth_session: 's1' });
  });

  it('a select-list answer that is not one of its values is not sent', async () => {
    const port = script({
      [AS1]: [reply(400, { error: 'insufficient_information', auth_session: 's1', userPrompt: { options: { bank: { values: { a: { name: 'A' } } } } } }), reply(200, { authorization_code: 'c' })],
    });
    await walkNativeAuthorization(port, { endpoint: AS1, accessToken: undefined, params: {} }, { ...noChallenges, onInformation: () => Promise.resolve({ bank: 'z' }) });
    expect(port.calls[1].params).toEqual({ auth_session: 's1' });
  });

  it('without onInformation, insufficient_information is an error naming it', async () => {
    const port = script({ [AS1]: [reply(400, { error: 'insufficient_information', auth_session: 's1', userPrompt: {} })] });
    await expect(walkNativeAuthorization(port, { endpoint: AS1, accessToken: undefined, params: {} }, noChallenges)).rejects.toBeInstanceOf(OAuthClientError);
  });

  it('FED-8/FED-14/FED-15: redirect_to_app downstream — the app hands back a code for the federating server, which goes to response_uri', async () => {
    const port = script({
      [AS1]: [reply(400, { error: 'federate', auth_session: 's1', federation_uri: AS2, federation_body: 'client_id=as1&request_uri=r', response_uri: CALLBACK })],
      [AS2]: [reply(400, { error: 'redirect_to_app', deep_link: 'https://app.as2.example/open?client_id=as1&request_uri=h' })],
      [CALLBACK]: [reply(200, { authorization_code: 'home', auth_session: 's1' })],
    });
    const opened: string[] = [];
    const result = await walkNativeAuthorization(port, { endpoint: AS1, accessToken: undefined, params: {} }, {
      ...noChallenges,
      onRedirectToApp: ({ deepLink }) => {
        opened.push(deepLink);
        return Promise.resolve({ authorization_code: 'from-app' });
      },
    });
    expect(opened).toEqual(['https://app.as2.example/open?client_id=as1&request_uri=h']);
    expect(port.calls[2].params).toEqual({ authorization_code: 'from-app', auth_session: 's1' });
    expect(result.authorizationCode).toBe('home');
  });

  it('FED-15: redirect_to_app from the home server — the code the app hands back is the client\'s own', async () => {
    const port = script({ [AS1]: [reply(400, { error: 'redirect_to_app', deep_link: 'https://app.example/x' })] });
    const result = await walkNativeAuthorization(port, { endpoint: AS1, accessToken: undefined, params: { auth_session: 's1' } }, { ...noChallenges, onRedirectToApp: () => Promise.resolve({ authorization_code: 'mine' }) });
    expect(result).toEqual({ authorizationCode: 'mine', authSession: 's1', body: { authorization_code: 'mine' } });
  });

  it('FED-14: no app claims the deep link — the flow ends with an error', async () => {
    const port = script({ [AS1]: [reply(400, { error: 'redirect_to_app', deep_link: 'https://app.example/x' })] });
    await expect(walkNativeAuthorization(port, { endpoint: AS1, accessToken: undefined, params: {} }, { ...noChallenges, onRedirectToApp: () => Promise.resolve(undefined) })).rejects.toMatchObject({ error: 'redirect_to_app' });
  });

  it('FED-13: redirect_to_web from a downstream server is handled by the client, not forwarded', async () => {
    const port = script({
      [AS1]: [reply(400, { error: 'federate', auth_session: 's1', federation_uri: AS2, federation_body: 'client_id=as1&request_uri=r', response_uri: CALLBACK })],
      [AS2]: [reply(403, { error: 'redirect_to_web', request_uri: 'urn:x' })],
    });
    await expect(walkNativeAuthorization(port, { endpoint: AS1, accessToken: undefined, params: {} }, noChallenges)).rejects.toBeInstanceOf(RedirectToWebError);
    expect(port.calls).toHaveLength(2);
  });

  it('a federate answer missing a member is refused without following it', async () => {
    const port = script({ [AS1]: [reply(400, { error: 'federate', auth_session: 's1', federation_uri: AS2, response_uri: CALLBACK })] });
    await expect(walkNativeAuthorization(port, { endpoint: AS1, accessToken: undefined, params: {} }, noChallenges)).rejects.toThrow(/federation_body/);
    expect(port.calls).toHaveLength(1);
  });

  it('onChallenge giving up ends the walk', async () => {
    const port = script({ [AS1]: [reply(403, { error: 'insufficient_authorization', auth_session: 's1', status: 'method_required', methods: ['email_otp'] })] });
    await expect(walkNativeAuthorization(port, { endpoint: AS1, accessToken: undefined, params: {} }, noChallenges)).rejects.toBeInstanceOf(ChallengeAbandonedError);
  });
});
