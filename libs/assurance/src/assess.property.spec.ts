import fc from 'fast-check';
import { ACR, acrPolicyFor } from './acr-policy';
import { assess, factorCount } from './assess';
import { decideEnrolment, provisionalUse } from './enrolment';
import { credentialRank, freshEvents, type AuthEvent } from './events';
import { event, PROFILES, type MethodId } from './fixtures';

const ALL = ['passkey', 'email_otp', 'sms_otp', 'totp'];
const policy = acrPolicyFor(null, ALL);
const methods = Object.values(PROFILES);
const BUILT_IN = [ACR.oneFactor, ACR.email, ACR.phone, ACR.mfa, ACR.phr];
const NOW = 1_800_000_000_000;

const methodArb = fc.constantFrom<MethodId>('email_otp', 'sms_otp', 'totp', 'passkey');
const eventArb = fc.record({ method: methodArb, ago: fc.integer({ min: -30, max: 7200 }), uv: fc.boolean(), counted: fc.boolean() }).map((r) => event(r.method, NOW - r.ago * 1000, { uv: r.uv, counted: r.counted }));
const eventsArb = fc.array(eventArb, { maxLength: 10 });
const maxAgeArb = fc.option(fc.integer({ min: 0, max: 3600 }), { nil: undefined });
const acrArb = fc.constantFrom(...BUILT_IN);

const run = (acr: string, events: AuthEvent[], maxAgeSeconds?: number) => assess({ policy, requested: [acr], events, nowMs: NOW, maxAgeSeconds, methods });

describe('assess (properties): no sequence of events yields more than its fresh events support', () => {
  it('what satisfies an acr is a subset of the fresh counted events, and tokens describe exactly it', () => {
    fc.assert(
      fc.property(acrArb, eventsArb, maxAgeArb, (acr, events, maxAge) => {
        const s = run(acr, events, maxAge).satisfied;
        if (!s) return;
        const fresh = freshEvents(events, NOW, maxAge);
        for (const e of s.events) expect(fresh).toContain(e);
        expect(s.authTimeMs).toBe(Math.min(...s.events.map((e) => e.atMs)));
        if (maxAge !== undefined) expect(s.authTimeMs).toBeGreaterThanOrEqual(NOW - maxAge * 1000);
        const shown = new Set(s.events.flatMap((e) => e.amr));
        for (const a of s.amr) if (a !== 'mfa') expect(shown.has(a)).toBe(true);
        expect(s.amr.includes('mfa')).toBe(factorCount(s.events) >= 2);
      }),
    );
  });

  it('the strongest fresh event bounds the acr: mfa needs a UV passkey or two factor classes; phr a fresh passkey', () => {
    fc.assert(
      fc.property(eventsArb, maxAgeArb, (events, maxAge) => {
        const fresh = freshEvents(events, NOW, maxAge);
        const mfa = run(ACR.mfa, events, maxAge).satisfied;
        const canMfa = fresh.some((e) => e.factors === 2) || new Set(fresh.map((e) => e.factor)).size >= 2;
        expect(mfa !== undefined).toBe(canMfa);
        const phr = run(ACR.phr, events, maxAge).satisfied;
        expect(phr !== undefined).toBe(fresh.some((e) => e.phishingResistant));
      }),
    );
  });

  it('stale and uncounted events change nothing', () => {
    fc.assert(
      fc.property(acrArb, eventsArb, eventsArb, maxAgeArb, (acr, events, noise, maxAge) => {
        const irrelevant = noise.map((e) => ({ ...e, counted: false }));
        const stale = maxAge === undefined ? [] : noise.map((e) => ({ ...e, counted: true, atMs: NOW - (maxAge + 1) * 1000 }));
        const base = run(acr, events, maxAge);
        const noisy = run(acr, [...events, ...irrelevant, ...stale], maxAge);
        expect(noisy.satisfied?.acr).toBe(base.satisfied?.acr);
        expect(noisy.satisfied?.amr).toEqual(base.satisfied?.amr);
        expect(noisy.satisfied?.authTimeMs).toBe(base.satisfied?.authTimeMs);
      }),
    );
  });

  it('more authentication never loses an acr', () => {
    fc.assert(
      fc.property(acrArb, eventsArb, eventsArb, (acr, events, more) => {
        if (run(acr, events).satisfied) expect(run(acr, [...events, ...more]).satisfied).toBeDefined();
      }),
    );
  });
});

/**
 * A model of one user's life through the pure rules the loop applies: authenticate, enrol a
 * credential (`decideEnrolment`), use it (`provisionalUse` decides whether it counts), start a new
 * flow. Within one flow, a credential enrolled in that flow never raises the acr (finding 1).
 */
type Op = { kind: 'auth'; method: 'email_otp' | 'sms_otp' } | { kind: 'enrol'; method: 'passkey' | 'totp' } | { kind: 'use'; method: 'passkey' | 'totp'; uv: boolean } | { kind: 'newFlow' };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('auth' as const), method: fc.constantFrom('email_otp' as const, 'sms_otp' as const) }),
  fc.record({ kind: fc.constant('enrol' as const), method: fc.constantFrom('passkey' as const, 'totp' as const) }),
  fc.record({ kind: fc.constant('use' as const), method: fc.constantFrom('passkey' as const, 'totp' as const), uv: fc.boolean() }),
  fc.record({ kind: fc.constant('newFlow' as const) }),
);

interface Credential {
  method: 'passkey' | 'totp';
  provisional: boolean;
  basisRank: number;
  enrolledFlow: string;
}

describe('enrolment (property): enrol-to-climb is impossible within a flow', () => {
  it('the acr a flow reaches is what it reaches without the credentials it enrolled', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 14 }), (ops) => {
        const creds: Credential[] = [];
        let flow = 0;
        let t = NOW - 600_000;
        let flowEvents: AuthEvent[] = [];
        let withoutNew: AuthEvent[] = [];
        for (const op of ops) {
          t += 1000;
          if (op.kind === 'newFlow') {
            flow++;
            flowEvents = [];
            withoutNew = [];
            continue;
          }
          if (op.kind === 'auth') {
            const e = event(op.method, t);
            flowEvents.push(e);
            withoutNew.push(e);
          } else if (op.kind === 'enrol') {
            const held = creds.map((c) => ({ rank: c.provisional ? c.basisRank : credentialRank(PROFILES[c.method]) }));
            const d = decideEnrolment(held, flowEvents.filter((e) => e.counted), credentialRank(PROFILES[op.method]));
            if (d.allowed) creds.push({ method: op.method, provisional: d.provisional, basisRank: d.basisRank, enrolledFlow: String(flow) });
          } else {
            const c = creds.find((x) => x.method === op.method);
            if (!c) continue;
            const use = provisionalUse({ provisional: c.provisional, enrolledFlow: c.enrolledFlow, trustedAfterMs: null }, String(flow), t);
            if (use.promote) c.provisional = false;
            const e = event(op.method, t, { uv: op.uv, counted: use.counted });
            flowEvents.push(e);
            // Without this flow's enrolments, only credentials from earlier flows could have been used.
            if (c.enrolledFlow !== String(flow)) withoutNew.push(e);
          }
          for (const acr of BUILT_IN) {
            const reached = run(acr, flowEvents).satisfied !== undefined;
            const baseline = run(acr, withoutNew).satisfied !== undefined;
            expect(reached).toBe(baseline);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
