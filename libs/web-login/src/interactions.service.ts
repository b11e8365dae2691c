import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { randomToken } from '@fpa/crypto';
import { EPHEMERAL_STORE, type EphemeralStore } from '@fpa/store';

/** One browser login: which session and client, where the answer goes, and what the page showed last. */
export interface BrowserInteraction {
  readonly id: string;
  readonly authSession: string;
  readonly clientId: string;
  /** The flow's binding key (hash of the login cookie's secret): a form of another browser's flow is refused. */
  readonly bindingKey: string;
  /** Validated when the request was: where the code or the error goes (RFC 6749 §4.1.2). */
  readonly redirectUri: string;
  readonly state: string | undefined;
  /** The last page's outcome (re-shown with an error message when an answer is refused). */
  readonly last?: unknown;
}

const key = (id: string): string => `browser-login:${id}`;

/** Browser logins in progress, in the ephemeral store for as long as a challenge flow lives. */
@Injectable()
export class BrowserInteractions {
  constructor(
    @Inject(EPHEMERAL_STORE) private readonly store: EphemeralStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** A new interaction, not stored yet: its first page's `remember` stores it (one write per request). */
  create(i: Omit<BrowserInteraction, 'id'>): BrowserInteraction {
    return { ...i, id: randomToken(16) };
  }

  async find(id: unknown): Promise<BrowserInteraction | undefined> {
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(id)) return undefined;
    return this.store.getJson<BrowserInteraction>(key(id));
  }

  async remember(i: BrowserInteraction, last: unknown): Promise<void> {
    await this.store.setJson(key(i.id), { ...i, last }, this.config.challenge.flowTtlSeconds);
  }

  async end(i: BrowserInteraction): Promise<void> {
    await this.store.delete(key(i.id));
  }
}
