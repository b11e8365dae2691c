import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { CLOCK, OAuthError, type Clock } from '@fpa/oauth-core';
import { EPHEMERAL_STORE, rateLimited, StoreKeys, type EphemeralStore, type RateLimitHit } from '@fpa/store';
import type { MessageChannel } from './messaging';
import { MessagingMetrics } from './messaging.metrics';

const HOUR = 3600;
/** Keys outlive their hour a little, so a replica whose clock lags still finds the counter it gives back to. */
const KEY_GRACE_SECONDS = 120;

/** A unit taken from the budgets for one message. */
export interface SpentSend {
  readonly channel: MessageChannel;
  /**
   * The message was not sent: return the unit to the client's and the global budget. Best effort
   * and idempotent; it never throws, so the caller's own error stays the one reported.
   */
  giveBack(): Promise<void>;
}

/**
 * Hourly send budgets per channel, one per client and one for the whole suite (issue 7, finding
 * 10: per-destination limits alone let free public sessions pump SMS to fresh numbers). Counters
 * live in the ephemeral store, so every replica shares them (Redis; in-process only in the
 * embedded default). Windows are clock hours, numbered, so a unit given back late never lands in
 * the next hour's counter. A refusal is `429 slow_down` with Retry-After until the hour ends
 * (CONTRACT §2) and takes nothing.
 */
@Injectable()
export class SendBudget {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly metrics: MessagingMetrics,
  ) {}

  /**
   * Takes one unit of `clientId`'s and of the global budget for `channel` before a message is sent.
   * `first`: limits of the caller counted before the budgets in the same store round trip (the
   * per-destination cap); over one of them, nothing is taken from the budgets.
   */
  async consume(channel: MessageChannel, clientId: string, first: readonly RateLimitHit[] = []): Promise<SpentSend> {
    const limits = this.config.messaging.sendBudget[channel];
    const now = this.clock.nowSeconds();
    const window = Math.floor(now / HOUR);
    const retryAfter = Math.max(1, (window + 1) * HOUR - now);
    const ttl = retryAfter + KEY_GRACE_SECONDS;
    const clientKey = StoreKeys.sendBudget(channel, 'client', clientId, window);
    const globalKey = StoreKeys.sendBudget(channel, 'global', '', window);

    const admitted = await this.store.admit({
      hits: [...first, { key: clientKey, windowSeconds: ttl, limit: limits.perClient }, { key: globalKey, windowSeconds: ttl, limit: limits.global }],
      claims: [],
    });
    if (admitted.limited) {
      const { index, resetSeconds } = admitted.limited;
      if (index < first.length) throw rateLimited(first[index].bucket, resetSeconds);
      // A refusal takes nothing: the units counted up to the refused one go back.
      if (index === first.length) {
        await this.store.unhit(clientKey);
        throw this.exhausted('client', channel, retryAfter);
      }
      await Promise.all([this.store.unhit(globalKey), this.store.unhit(clientKey)]);
      throw this.exhausted('global', channel, retryAfter);
    }
    let given = false;
    return {
      channel,
      giveBack: async () => {
        if (given) return;
        given = true;
        await Promise.all([this.store.unhit(clientKey), this.store.unhit(globalKey)]).catch(() => undefined);
      },
    };
  }

  private exhausted(scope: 'client' | 'global', channel: MessageChannel, retryAfter: number): OAuthError {
    this.metrics.budgetExhausted.inc({ scope, channel });
    const what = channel === 'sms' ? 'SMS messages' : 'emails';
    const who = scope === 'client' ? 'this client has had' : 'the service has sent';
    return new OAuthError('slow_down', `${who} as many ${what} as allowed this hour; retry in ${retryAfter} seconds`, {
      headers: { 'Retry-After': String(retryAfter) },
      reason: `send_budget:${scope}:${channel}`,
    });
  }
}
