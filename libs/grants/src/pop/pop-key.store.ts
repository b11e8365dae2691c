import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { JWK } from '@fpa/crypto';
import { sqlRunner, type SqlRunner } from '@fpa/persistence';

/**
 * The public keys clients proved for PoP tokens (`pop_keys`), so a later token request may name one
 * with `req_cnf={"kid": …}` (RFC 9201 §3.1). The kid is the key's RFC 7638 thumbprint; rows are per
 * client, so a kid never resolves to another client's key.
 */
@Injectable()
export class PopKeyStore {
  private readonly sql: SqlRunner;

  constructor(@InjectDataSource() ds: DataSource) {
    this.sql = sqlRunner(ds);
  }

  async find(clientId: string, kid: string, now: Date): Promise<JWK | undefined> {
    const rows = await this.sql<{ jwk: JWK }>(`SELECT jwk FROM pop_keys WHERE client_id = $1 AND kid = $2 AND expires_at > $3`, [clientId, kid, now]);
    return rows[0]?.jwk;
  }

  /** Records (or keeps alive) a proved key; `expiresAt` follows the longest token it can be named for. */
  async remember(clientId: string, kid: string, jwk: JWK, now: Date, expiresAt: Date): Promise<void> {
    await this.sql(
      `INSERT INTO pop_keys (client_id, kid, jwk, created_at, expires_at) VALUES ($1, $2, $3::jsonb, $4, $5)
       ON CONFLICT (client_id, kid) DO UPDATE SET expires_at = GREATEST(pop_keys.expires_at, EXCLUDED.expires_at)`,
      [clientId, kid, JSON.stringify(jwk), now, expiresAt],
    );
  }
}
