import type { AuthSessionView, ChallengeMethod, ChallengeParams, ChallengeStep, Json } from '../challenge-method';
import { CHALLENGE_STATUS_VALUES } from '../challenge-statuses';

type Prompt = Extract<ChallengeStep, { kind: 'prompt' }>;

/** What a module's contract test provides. Everything async may talk to fakes or real transports. */
export interface ChallengeContractHarness {
  readonly method: ChallengeMethod;
  /** A session the method applies to, with what `begin` needs. */
  session(): AuthSessionView | Promise<AuthSessionView>;
  beginParams(): ChallengeParams | Promise<ChallengeParams>;
  /** The answer a legitimate user gives to this prompt (reads the delivered code, signs with the authenticator…). */
  correctAnswer(prompt: Prompt): Promise<ChallengeParams>;
  /** A well-formed but wrong answer. */
  wrongAnswer(prompt: Prompt): Promise<ChallengeParams>;
  /** Values that must never appear in the reply or in the stored state (e.g. the OTP itself). */
  secrets?(prompt: Prompt): Promise<readonly string[]>;
  /** Moves the method's clock forward (every method's prompts expire, so every harness has a clock). */
  advanceClock(seconds: number): void;
}

const roundTrip = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/**
 * The shared contract every challenge module passes (issue 3, docs/challenge-modules.md). Run it
 * from the module's own spec: `describeChallengeMethodContract('email_otp', () => harness)`.
 */
export function describeChallengeMethodContract(name: string, makeHarness: () => ChallengeContractHarness | Promise<ChallengeContractHarness>): void {
  describe(`challenge method contract: ${name}`, () => {
    let h: ChallengeContractHarness;
    beforeEach(async () => {
      h = await makeHarness();
    });

    const begin = async (): Promise<Prompt> => {
      const step = await h.method.begin(await h.session(), await h.beginParams());
      expect(step.kind).toBe('prompt');
      return step as Prompt;
    };

    it('declares a snake_case id, RFC 8176 amr values and its parameters', () => {
      expect(h.method.id).toMatch(/^[a-z][a-z0-9_]{0,39}$/);
      expect(h.method.amr.length).toBeGreaterThan(0);
      for (const a of h.method.amr) expect(a).toMatch(/^[a-z0-9_]+$/);
      expect(Array.isArray(h.method.parameters)).toBe(true);
    });

    it('applies to the harness session', async () => {
      expect(await h.method.appliesTo(await h.session())).toBe(true);
    });

    it('begins with a prompt whose state and reply are plain JSON, with an expiry, and without the secret', async () => {
      const prompt = await begin();
      expect(roundTrip(prompt.state)).toEqual(prompt.state);
      expect(roundTrip(prompt.reply)).toEqual(prompt.reply);
      expect(prompt.reply).not.toHaveProperty('error');
      expect(prompt.reply).not.toHaveProperty('auth_session');
      expect(prompt.expiresInSeconds).toBeGreaterThan(0);
      for (const secret of (await h.secrets?.(prompt)) ?? []) {
        expect(JSON.stringify(prompt.reply)).not.toContain(secret);
        expect(JSON.stringify(prompt.state)).not.toContain(secret);
      }
      if (prompt.delivery) expect(prompt.delivery.to.length).toBeGreaterThan(0);
      // The secret's lockout key (finding 2): stable, bounded, never the secret itself.
      if (prompt.guard !== undefined) {
        expect(prompt.guard).toMatch(/^[a-z_]+:.{1,400}$/);
        for (const secret of (await h.secrets?.(prompt)) ?? []) expect(prompt.guard).not.toContain(secret);
      }
      // A status the client sees is documented: in CHALLENGE_STATUSES, or declared by the method.
      if (prompt.reply.status !== undefined) expect([...CHALLENGE_STATUS_VALUES, ...(h.method.statuses ?? [])]).toContain(prompt.reply.status);
    });

    it('verifies the correct answer against the stored (JSON round-tripped) state', async () => {
      const prompt = await begin();
      const step = await h.method.answer(await h.session(), roundTrip(prompt.state) as Json, await h.correctAnswer(prompt));
      expect(step.kind).toBe('verified');
      const verified = step as Extract<ChallengeStep, { kind: 'verified' }>;
      expect(['email', 'phone', 'user']).toContain(verified.subject.type);
      expect(verified.amr.length).toBeGreaterThan(0);
      // What it declares it verifies is what it verifies: the core offers it for …:email / …:phone on the declaration.
      const declared = h.method.assurance?.verifies;
      if (verified.subject.type === 'email' || verified.subject.type === 'phone') expect({ declared }).toEqual({ declared: verified.subject.type });
      if (declared !== undefined) expect(verified.subject.type).toBe(declared);
      // Only a multi-factor capable method may say it verified the user.
      if (verified.userVerified) expect(h.method.assurance?.multiFactorCapable).toBe(true);
    });

    it('rejects a wrong answer as invalid_code', async () => {
      const prompt = await begin();
      const step = await h.method.answer(await h.session(), roundTrip(prompt.state) as Json, await h.wrongAnswer(prompt));
      expect(step).toMatchObject({ kind: 'rejected', reason: 'invalid_code' });
    });

    it('rejects malformed input as invalid_input (not counted as an attempt) and never throws', async () => {
      const prompt = await begin();
      for (const params of [{}, { code: 123 }, { code: { nested: true } }, { credential: 'not json' }, { code: 'x'.repeat(5000) }, { code: '1'.repeat(5000) }] as ChallengeParams[]) {
        const step = await h.method.answer(await h.session(), roundTrip(prompt.state) as Json, params);
        expect({ params: Object.keys(params), step }).toMatchObject({ step: { kind: 'rejected', reason: 'invalid_input' } });
      }
    });

    it('rejects an answer after the challenge expired', async () => {
      const prompt = await begin();
      const answer = await h.correctAnswer(prompt);
      h.advanceClock(prompt.expiresInSeconds + 1);
      const step = await h.method.answer(await h.session(), roundTrip(prompt.state) as Json, answer);
      expect(step).toMatchObject({ kind: 'rejected', reason: 'expired' });
    });
  });
}
