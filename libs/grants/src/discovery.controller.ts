import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { KeyManager } from '@fpa/keys';
import { mergeMetadata, type MetadataPart } from '@fpa/oauth-core';
import { APP_CONFIG, type AppConfig } from '@fpa/config';

export const METADATA_PARTS = Symbol('METADATA_PARTS');

/** RFC 8414 metadata and the JWK Set (CONTRACT §1). */
@Controller()
export class DiscoveryController {
  private metadata: Record<string, unknown> | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(METADATA_PARTS) private readonly parts: readonly MetadataPart[],
    private readonly keys: KeyManager,
  ) {}

  @Get('.well-known/oauth-authorization-server')
  wellKnown(@Res() res: Response): void {
    this.metadata ??= mergeMetadata(this.config.http.issuer, this.parts);
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(this.metadata);
  }

  /** Public members only. Cacheable for less than KEY_PUBLISH_LEAD_SECONDS, so new keys are seen before they sign. */
  @Get('jwks')
  jwks(@Res() res: Response): void {
    res.setHeader('Cache-Control', 'public, max-age=60');
    res.setHeader('Content-Type', 'application/jwk-set+json');
    res.send(JSON.stringify(this.keys.jwks()));
  }
}
