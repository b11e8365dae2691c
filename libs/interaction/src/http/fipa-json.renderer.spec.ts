import type { EndpointOutcome, OutcomeKind } from '../loop/outcome';
import { FIPA_JSON, renderFipaJson } from './fipa-json.renderer';

const S = 'session-1';

describe('FIPA_JSON: every EndpointOutcome on the wire (FiPA -04 §5.2)', () => {
  it('has exactly one rendering per outcome kind', () => {
    const kinds: Record<OutcomeKind, true> = { code: true, need_more: true, pending: true, redirect_to_web: true, consent_required: true, redirect_to_app: true, insufficient_information: true, federate: true };
    expect(Object.keys(FIPA_JSON).sort()).toEqual(Object.keys(kinds).sort());
  });

  it('code: 200 with authorization_code and auth_session (FIPA-16), no extra headers', () => {
    expect(renderFipaJson({ kind: 'code', authSession: S, authorizationCode: 'c-1' })).toEqual({ status: 200, body: { authorization_code: 'c-1', auth_session: S } });
  });

  it('FED-14: a handoff code names native_callback_uri; FED-8: redirect_to_app is 400 with deep_link, auth_session and expires_in', () => {
    expect(renderFipaJson({ kind: 'code', authSession: S, authorizationCode: 'c-1', nativeCallbackUri: 'https://app.example.com/cb' }).body).toEqual({ authorization_code: 'c-1', auth_session: S, native_callback_uri: 'https://app.example.com/cb' });
    const link = 'https://app.as2.example/native-authorization?client_id=as1&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax';
    expect(renderFipaJson({ kind: 'redirect_to_app', authSession: S, deepLink: link, expiresIn: 60 })).toEqual({
      status: 400,
      body: { error: 'redirect_to_app', error_description: expect.any(String), deep_link: link, auth_session: S, expires_in: 60 },
    });
  });

  it('need_more: 403 insufficient_authorization with status, the challenge members and methods (FIPA-19/20)', () => {
    const outcome: EndpointOutcome = { kind: 'need_more', authSession: S, status: 'code_sent', challenge: { challenge_type: 'email_otp', destination: 'a***@example.com', expires_in: 300 }, methods: ['email_otp', 'sms_otp'] };
    expect(renderFipaJson(outcome)).toEqual({
      status: 403,
      body: { error: 'insufficient_authorization', auth_session: S, status: 'code_sent', challenge_type: 'email_otp', destination: 'a***@example.com', expires_in: 300, methods: ['email_otp', 'sms_otp'] },
    });
  });

  it('need_more when locked: Retry-After carries retryAfterSeconds; none otherwise', () => {
    const locked = renderFipaJson({ kind: 'need_more', authSession: S, status: 'locked', challenge: { challenge_type: 'totp', retry_after: 120 }, methods: [], retryAfterSeconds: 120 });
    expect(locked).toMatchObject({ status: 403, headers: { 'Retry-After': '120' }, body: { status: 'locked', retry_after: 120, methods: [] } });
    const plain = renderFipaJson({ kind: 'need_more', authSession: S, status: 'invalid_code', challenge: {}, methods: ['totp'] });
    expect(plain.headers).toBeUndefined();
  });

  it('pending: 403 with status pending, expires_in and interval, whatever the method put in its reply (WALLET-2)', () => {
    const outcome: EndpointOutcome = { kind: 'pending', authSession: S, challengeType: 'wallet', reply: { request_uri: 'r', status: 'spoofed', challenge_type: 'other' }, expiresIn: 90, intervalSeconds: 5 };
    expect(renderFipaJson(outcome)).toEqual({
      status: 403,
      body: { error: 'insufficient_authorization', auth_session: S, request_uri: 'r', challenge_type: 'wallet', status: 'pending', expires_in: 90, interval: 5 },
    });
    expect(renderFipaJson({ kind: 'pending', authSession: S, challengeType: 'wallet', reply: {}, expiresIn: 90 }).body).not.toHaveProperty('interval');
  });

  it('redirect_to_web: 403 with the PAR request_uri and its lifetime when there is one (FIPA-21/22)', () => {
    expect(renderFipaJson({ kind: 'redirect_to_web', authSession: S, requestUri: 'urn:ietf:params:oauth:request_uri:x', expiresIn: 60 })).toEqual({
      status: 403,
      body: { error: 'redirect_to_web', error_description: expect.any(String), auth_session: S, request_uri: 'urn:ietf:params:oauth:request_uri:x', expires_in: 60 },
    });
    const bare = renderFipaJson({ kind: 'redirect_to_web', authSession: S });
    expect(bare.status).toBe(403);
    expect(bare.body).not.toHaveProperty('request_uri');
    expect(bare.body).not.toHaveProperty('expires_in');
  });

  it('consent_required (a browser outcome; the native endpoint serves first-party clients only): redirect_to_web', () => {
    expect(renderFipaJson({ kind: 'consent_required', authSession: S, scopes: ['openid'], authorizationDetails: [] })).toEqual({
      status: 403,
      body: { error: 'redirect_to_web', error_description: expect.any(String), auth_session: S },
    });
  });

  it('insufficient_information: 400 with userPrompt, auth_session and the optional logo (FED-6)', () => {
    const userPrompt = { options: { bank: { title: 'Your bank', values: { a: { name: 'Bank A' } } } }, inputs: { email: { title: 'E-mail' } } };
    expect(renderFipaJson({ kind: 'insufficient_information', authSession: S, userPrompt, logo: 'https://l.example/x.png' })).toEqual({
      status: 400,
      body: { error: 'insufficient_information', auth_session: S, userPrompt, logo: 'https://l.example/x.png' },
    });
    expect(renderFipaJson({ kind: 'insufficient_information', authSession: S, userPrompt }).body).not.toHaveProperty('logo');
  });

  it('federate: 400 with federation_uri, federation_body, response_uri and auth_session (FED-5/FED-10)', () => {
    expect(renderFipaJson({ kind: 'federate', authSession: S, federationUri: 'https://as2/authorize-challenge', federationBody: 'client_id=a&request_uri=u', responseUri: 'https://as1/federation/callback' })).toEqual({
      status: 400,
      body: { error: 'federate', auth_session: S, federation_uri: 'https://as2/authorize-challenge', federation_body: 'client_id=a&request_uri=u', response_uri: 'https://as1/federation/callback' },
    });
  });
});
