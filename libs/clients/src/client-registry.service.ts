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

  constructor(@InjectRepository(ClientEntity) private readonly repo: Repository<ClientEntity>) {}

  /** An enabled client, or undefined. */
  async find(clientId: string): Promise<Client | undefined> {
    if (clientId.length > 128) return undefined;
    const now = Date.now();
    const hit = this.cache.get(clientId);
    if (hit && hit.until > now) return hit.client.enabled ? hit.client : undefined;
    const row = await this.repo.findOneBy({ clientId });
    if (!row) {
      this.cache.delete(clientId);
      return undefined;
    }
    const client = toClient(row);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(clientId, { client, until: now + CACHE_MS });
    return client.enabled ? client : undefined;
  }

  /** Forget cached entries (admin changes in this process take effect at once). */
  invalidate(clientId?: string): void {
    if (clientId === undefined) this.cache.clear();
    else this.cache.delete(clientId);
  }
}

export function hashClientSecret(secret: string): string {
  return sha256(secret).toString('base64url');
}

export function verifyClientSecret(client: Client, presented: string): boolean {
  if (!client.secretHash) return false;
  return constantTimeEqual(hashClientSecret(presented), client.secretHash);
}
