import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { constantTimeEqual, sha256 } from '@fpa/crypto';
import { ClientEntity, toClient, type Client } from './client.entity';

const CACHE_MS = 10_000;

/**
 * Read side of the client registry. Lookups are cached in-process for a few seconds because the
 * token endpoint needs the client on every request; a disabled client stops working on every
 * replica within CACHE_MS.
 */
@Injectable()
export class ClientRegistry {
  private readonly cache = new Map<string, { client: Client; until: number }>();
  /**
   * Lookups in flight, by client id: when an entry expires under load, every request in flight
   * missed it at once and each sent the same SELECT (27–40 per 3,000 registrations in the bench,
   * issue 13); now they share one.
   */
  private readonly inflight = new Map<string, Promise<Client | undefined>>();
  /** Bumped by `invalidate`: a lookup that started before must not refill the cache after it. */
  private generation = 0;

  constructor(@InjectRepository(ClientEntity) private readonly repo: Repository<ClientEntity>) {}

  /** An enabled client, or undefined. */
  async find(clientId: string): Promise<Client | undefined> {
    if (clientId.length > 128) return undefined;
    const hit = this.cache.get(clientId);
    if (hit && hit.until > Date.now()) return hit.client.enabled ? hit.client : undefined;
    let lookup = this.inflight.get(clientId);
    if (!lookup) {
      lookup = this.load(clientId).finally(() => {
        if (this.inflight.get(clientId) === lookup) this.inflight.delete(clientId);
      });
      this.inflight.set(clientId, lookup);
    }
    const client = await lookup;
    return client?.enabled ? client : undefined;
  }

  /** One SELECT; the row (enabled or not) is cached unless `invalidate` ran meanwhile. */
  private async load(clientId: string): Promise<Client | undefined> {
    const generation = this.generation;
    const row = await this.repo.findOneBy({ clientId });
    if (generation !== this.generation) return row ? toClient(row) : undefined;
    if (!row) {
      this.cache.delete(clientId);
      return undefined;
    }
    const client = toClient(row);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(clientId, { client, until: Date.now() + CACHE_MS });
    return client;
  }

  /** Forget cached entries (admin changes in this process take effect at once). */
  invalidate(clientId?: string): void {
    this.generation++;
    if (clientId === undefined) {
      this.cache.clear();
      this.inflight.clear();
    } else {
      this.cache.delete(clientId);
      this.inflight.delete(clientId);
    }
  }
}

export function hashClientSecret(secret: string): string {
  return sha256(secret).toString('base64url');
}

export function verifyClientSecret(client: Client, presented: string): boolean {
  if (!client.secretHash) return false;
  return constantTimeEqual(hashClientSecret(presented), client.secretHash);
}
