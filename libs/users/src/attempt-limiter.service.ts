import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { randomToken, sha256B64u } from '@fpa/crypto';
import { sqlRunner, type SqlRunner } from '@fpa/persistence';

export type AttemptCharge = { readonly allowed: true; readonly failures: number } | { readonly allowed: false; readonly retryAfterSeconds: number };

/** The lockout policy (config `AUTH_LOCKOUT_*`). */
export interface LockoutPolicy {
  /** Wrong answers allowed before the first lock. */
  readonly threshold: number;
  /** The first lock; each further failure doubles it, up to `maxLockSeconds`. */
  readonly baseLockSeconds: number;
  readonly maxLockSeconds: number;
  /** Failures are forgotten after this long without one. */
  readonly resetSeconds: number;
}

/**
 * Wrong answers counted per secret in PostgreSQL (issue 7 finding 2): per TOTP user, per OTP
 * destination, per user's passkeys — not per flow, so starting a new challenge, a new session or
 * a new DPoP key resets nothing, and a Redis restart loses nothing.
 *
 * Every answer is charged *before* the secret is checked, in one statement that also refuses it
 * while the key is locked: N racing guesses take N attempts, however they interleave. A correct
 * answer clears the count (`succeed`). After `threshold` failures the key locks for a time that
 * doubles with every further failure. Keys are stored hashed (they name addresses).
 */
@Injectable()
export class AttemptLimiter {
  private readonly sql: SqlRunner;

  constructor(
    @InjectDataSource() ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.sql = sqlRunner(ds);
  }

  get policy(): LockoutPolicy {
    return this.config.challenge.lockout;
  }

  async charge(key: string, now: Date): Promise<AttemptCharge> {
    const p = this.policy;
    const charge = randomToken(12);
    const rows = await this.sql<{ failures: number; locked_until: Date | null; last_charge: string | null }>(
      `INSERT INTO auth_attempts AS a (key_hash, failures, last_failure_at, locked_until, last_charge)
       VALUES ($1, 1, $2, CASE WHEN 1 >= $3::int THEN $2::timestamptz + make_interval(secs => $4::float8) END, $6)
       ON CONFLICT (key_hash) DO UPDATE SET
         failures = CASE WHEN a.locked_until > $2::timestamptz THEN a.failures
                         WHEN a.last_failure_at < $2::timestamptz - make_interval(secs => $7::float8) THEN 1
                         ELSE a.failures + 1 END,
         locked_until = CASE WHEN a.locked_until > $2::timestamptz THEN a.locked_until
                             WHEN a.last_failure_at < $2::timestamptz - make_interval(secs => $7::float8) THEN CASE WHEN 1 >= $3::int THEN $2::timestamptz + make_interval(secs => $4::float8) END
                             WHEN a.failures + 1 >= $3::int THEN $2 + make_interval(secs => LEAST($5::float8, $4::float8 * power(2, LEAST(a.failures + 1 - $3::int, 30))))
                             ELSE NULL END,
         last_failure_at = CASE WHEN a.locked_until > $2::timestamptz THEN a.last_failure_at ELSE $2 END,
         last_charge = CASE WHEN a.locked_until > $2::timestamptz THEN a.last_charge ELSE $6 END
       RETURNING failures, locked_until, last_charge`,
      [sha256B64u(key), now, p.threshold, p.baseLockSeconds, p.maxLockSeconds, charge, p.resetSeconds],
    );
    const row = rows[0];
    // Charged by this call: the attempt may go on (a lock set now applies to the next one).
    if (row.last_charge === charge) return { allowed: true, failures: row.failures };
    const until = row.locked_until ? new Date(row.locked_until).getTime() : now.getTime();
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((until - now.getTime()) / 1000)) };
  }

  /**
   * A malformed answer (nothing was checked): the charge is given back, and with it a lock that
   * only the charge made due. A lock exists only while the count has reached the threshold, so
   * below it none is owed. At or past the threshold (backoff) the lock stays: it may belong to
   * another, real failure, and refund never weakens a lockout.
   */
  async refund(key: string): Promise<void> {
    const keyHash = sha256B64u(key);
    await this.sql(
      'UPDATE auth_attempts SET failures = GREATEST(failures - 1, 0), locked_until = CASE WHEN failures - 1 < $2::int THEN NULL ELSE locked_until END WHERE key_hash = $1',
      [keyHash, this.policy.threshold],
    );
    // Back to nothing remembered: the row goes, so a refused answer leaves none (issue 8). A charge
    // racing in between has raised `failures` again, and its row stays.
    await this.sql('DELETE FROM auth_attempts WHERE key_hash = $1 AND failures = 0 AND locked_until IS NULL', [keyHash]);
  }

  /** A correct answer: the key's failures are forgotten. */
  async succeed(key: string): Promise<void> {
    await this.sql('DELETE FROM auth_attempts WHERE key_hash = $1', [sha256B64u(key)]);
  }
}
