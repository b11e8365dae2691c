import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { KeyManager } from '@fpa/keys';
import { AuthorizationServerMetadata } from './authorization-server-metadata';

/** RFC 8414 metadata and the JWK Set (CONTRACT §1). */
@Controller()
export class DiscoveryController {
  constructor(
    private readonly metadata: AuthorizationServerMetadata,
    private readonly keys: KeyManager,
  ) {}

  @Get('.well-known/oauth-authorization-server')
  wellKnown(@Res() res: Response): void {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(this.metadata.document());
  }

  /** Public members only. Cacheable for less than KEY_PUBLISH_LEAD_SECONDS, so new keys are seen before they sign. */
  @Get('jwks')
  jwks(@Res() res: Response): void {
    res.setHeader('Cache-Control', 'public, max-age=60');
    res.setHeader('Content-Type', 'application/jwk-set+json');
    res.send(JSON.stringify(this.keys.jwks()));
  }
}
