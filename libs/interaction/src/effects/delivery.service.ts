import { Inject, Injectable } from '@nestjs/common';
import type { Delivery } from '@fpa/challenge-kit';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { EMAIL_SENDER, SMS_SENDER, DeliveryError, SendBudget, type EmailSender, type SmsSender } from '@fpa/messaging';
import { OAuthError } from '@fpa/oauth-core';
import { EPHEMERAL_STORE, StoreKeys, rateLimitHit, type EphemeralStore } from '@fpa/store';
import { InteractionMetrics } from '../interaction.metrics';

/** What a reservation holds; `release` gives it back when nothing could be sent. */
export interface Reservation {
  release(): Promise<void>;
}

/**
 * The delivery port: one-time codes and notices go out through here, after the per-destination
 * resend throttle and hourly cap, and the client's and the global hourly send budgets (finding
 * 10). The loop reserves before it writes the flow and sends after, so a lost compare-and-set race
 * never sends; whatever fails before the message left gives back everything it reserved.
 */
@Injectable()
export class DeliveryService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    @Inject(EMAIL_SENDER) private readonly email: EmailSender,
    @Inject(SMS_SENDER) private readonly sms: SmsSender,
    private readonly budget: SendBudget,
    private readonly metrics: InteractionMetrics,
  ) {}

  async reserve(d: Delivery, method: string, clientId: string): Promise<Reservation> {
    const { resendSeconds, rateLimitDestination } = this.config.challenge;
    const slot = StoreKeys.rateLimit('challenge-resend', d.to);
    if (resendSeconds > 0 && !(await this.store.claimOnce(slot, resendSeconds))) {
      this.metrics.steps.inc({ method, outcome: 'throttled' });
      throw new OAuthError('slow_down', `a code was just sent there; retry in ${resendSeconds} seconds`, { headers: { 'Retry-After': String(resendSeconds) } });
    }
    const releaseSlot = (): Promise<void> => this.store.delete(slot).catch(() => undefined);
    try {
      // The hourly cap counts attempts, so a failing provider cannot be hammered through it; it is
      // counted first, with the send budgets, in one store round trip.
      const spent = await this.budget.consume(d.channel, clientId, [rateLimitHit('challenge-destination', d.to, rateLimitDestination, 3600)]);
      return {
        release: async () => {
          await releaseSlot();
          await spent.giveBack();
        },
      };
    } catch (e) {
      await releaseSlot();
      throw e;
    }
  }

  async send(d: Delivery): Promise<void> {
    try {
      if (d.channel === 'email') await this.email.send({ to: d.to, subject: d.subject ?? 'Your sign-in code', text: d.text });
      else await this.sms.send({ to: d.to, text: d.text });
    } catch (e) {
      if (e instanceof DeliveryError) throw e;
      throw new DeliveryError(d.channel, 'delivery failed', { cause: e });
    }
  }
}
