import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { PublicJwk } from '@fpa/crypto';
import { DeviceSessionEntity, type DeviceSession } from './device-session.entity';

export interface NewDeviceSession {
  readonly authSession: string;
  readonly clientId: string;
  readonly keyJkt: string;
  readonly publicJwk: PublicJwk;
  readonly keyAlg: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly registeredIp: string | null;
}

@Injectable()
export class DeviceSessionRepository {
  constructor(@InjectRepository(DeviceSessionEntity) private readonly repo: Repository<DeviceSessionEntity>) {}

  async create(s: NewDeviceSession): Promise<void> {
    await this.repo.insert({ ...s, status: 'active', revokedAt: null });
  }

  async find(authSession: string): Promise<DeviceSession | undefined> {
    // auth_session values we mint are 43 base64url characters; anything else cannot exist.
    if (!/^[A-Za-z0-9_-]{20,128}$/.test(authSession)) return undefined;
    return (await this.repo.findOneBy({ authSession })) ?? undefined;
  }

  async revoke(authSession: string, at: Date): Promise<boolean> {
    const result = await this.repo.update({ authSession, status: 'active' }, { status: 'revoked', revokedAt: at });
    return (result.affected ?? 0) > 0;
  }

  count(): Promise<number> {
    return this.repo.count();
  }
}
