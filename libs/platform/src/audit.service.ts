import { type BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { sqlRunner, storableText, type SqlRunner } from '@fpa/persistence';
import { MetricsRegistry } from './metrics.service';

export type AuditEventType =
  | 'device.registered'
  | 'token.issued'
  | 'token.refreshed'
  | 'token.revoked'
  | 'refresh_token.reuse_detected'
  | 'client.auth_failed'
  | 'challenge.verified'
  | 'challenge.failed'
  | 'challenge.code_issued'
  | 'federation.redirect_to_app'
  | 'federation.handoff_taken'
  | 'authorization_code.reuse_detected'
  | 'credential.enrolled'
  | 'credential.recovered'
  | 'signing_key.created'
  | 'signing_key.rotated'
  | 'signing_key.retired'
  | 'federation_entity_key.created'
  | 'device_session.revoked'
  | 'store.generation_started'
  | 'store.revocations_restored'
  | 'federation.started'
  | 'federation.completed'
  | 'federation.failed'
  | 'federation.identity_linked';

export interface AuditEvent {
  readonly type: AuditEventType;
  readonly outcome?: 'success' | 'failure';
  readonly clientId?: string;
  readonly authSession?: string;
  readonly subject?: string;
  readonly ip?: string;
  readonly requestId?: string;
  /** Never tokens, secrets or codes: ids, reasons and counts only. */
  readonly details?: Record<string, unknown>;
}

/** JSON.stringify replacer: strings and member names as storableText makes them. */
function storableMember(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return storableText(value);
  if (value && typeof value === 'object' && !Array.isArray(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [storableText(k), v]));
  return value;
}

/** A buffered row of audit_events (AuditEventEntity's columns), details already as the JSON text sent. */
interface PendingAuditEvent {
  readonly occurredAt: Date;
  readonly eventType: string;
  readonly outcome: string;
  readonly clientId: string | null;
  readonly authSession: string | null;
  readonly subject: string | null;
  readonly ip: string | null;
  readonly requestId: string | null;
  readonly detailsJson: string;
}

const FLUSH_MS = 200;
const MAX_BATCH = 500;
const MAX_BUFFER = 20_000;

/**
 * Audit trail in PostgreSQL. Events are buffered and written in multi-row inserts so the token
 * endpoint pays no extra round trip per request; the buffer is flushed on shutdown. If PostgreSQL
 * is down the buffer is kept (bounded) and retried; what overflows is counted in
 * `fpa_audit_events_dropped_total` and logged.
 */
@Injectable()
export class AuditService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Audit');
  private buffer: PendingAuditEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  private readonly sql: SqlRunner;
  private readonly dropped;

  constructor(@InjectDataSource() ds: DataSource, metrics: MetricsRegistry) {
    this.sql = sqlRunner(ds);
    this.dropped = metrics.counter({ name: 'fpa_audit_events_dropped_total', help: 'Audit events that could not be written to PostgreSQL.' });
  }

  record(event: AuditEvent): void {
    // An audit record is written whatever it quotes: what PostgreSQL cannot hold is replaced, not refused.
    const text = (v: string | undefined): string | null => (v === undefined ? null : storableText(v));
    const row: PendingAuditEvent = {
      occurredAt: new Date(),
      eventType: event.type,
      outcome: event.outcome ?? 'success',
      clientId: text(event.clientId),
      authSession: text(event.authSession),
      subject: text(event.subject),
      ip: text(event.ip),
      requestId: text(event.requestId),
      // Serialised once, here, as the INSERT sends it (it used to be stringified, parsed back and stringified again).
      detailsJson: event.details ? JSON.stringify(event.details, storableMember) : '{}',
    };
    if (this.buffer.length >= MAX_BUFFER) {
      this.dropped.inc();
      return;
    }
    this.buffer.push(row);
    if (this.buffer.length >= MAX_BATCH) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Writes everything buffered so far (tests and shutdown call this). */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.flushing) await this.flushing;
    if (this.buffer.length === 0) return;
    const batch = this.buffer.splice(0, MAX_BATCH);
    this.flushing = this.insert(batch)
      .catch((e: unknown) => {
        this.logger.warn(`audit write failed, will retry: ${(e as Error).message}`);
        this.buffer.unshift(...batch.slice(0, Math.max(0, MAX_BUFFER - this.buffer.length)));
        if (!this.timer) {
          this.timer = setTimeout(() => void this.flush(), 1000);
          this.timer.unref();
        }
      })
      .finally(() => {
        this.flushing = undefined;
      });
    await this.flushing;
    if (this.buffer.length > 0 && !this.timer) void this.flush();
  }

  /** One multi-row INSERT per batch (9 parameters a row, far below PostgreSQL's 65,535). */
  private async insert(batch: PendingAuditEvent[]): Promise<void> {
    const params: unknown[] = [];
    const rows = batch.map((e) => {
      const base = params.length;
      params.push(e.occurredAt, e.eventType, e.outcome, e.clientId, e.authSession, e.subject, e.ip, e.requestId, e.detailsJson);
      return `(${Array.from({ length: 9 }, (_, i) => `$${base + i + 1}`).join(', ')})`;
    });
    await this.sql(
      `INSERT INTO audit_events (occurred_at, event_type, outcome, client_id, auth_session, subject, ip, request_id, details) VALUES ${rows.join(', ')}`,
      params,
    );
  }

  /** Before the DataSource closes (it closes in onApplicationShutdown). */
  async beforeApplicationShutdown(): Promise<void> {
    await this.flush().catch(() => undefined);
  }
}
