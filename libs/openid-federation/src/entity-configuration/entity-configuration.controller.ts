import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ENTITY_STATEMENT_MEDIA_TYPE, WELL_KNOWN_OPENID_FEDERATION } from '../chain/entity-statement';
import { EntityConfigurationService } from './entity-configuration.service';

/** `GET /.well-known/openid-federation` (CONTRACT §1, OpenID Federation 1.0 §9). */
@Controller()
export class EntityConfigurationController {
  constructor(private readonly configuration: EntityConfigurationService) {}

  @Get(WELL_KNOWN_OPENID_FEDERATION.slice(1))
  async entityConfiguration(@Res() res: Response): Promise<void> {
    const jwt = await this.configuration.current();
    res.setHeader('Content-Type', ENTITY_STATEMENT_MEDIA_TYPE);
    res.setHeader('Cache-Control', `public, max-age=${this.configuration.reuseSeconds}`);
    // A Buffer, so Express adds no charset to a media type that has none.
    res.send(Buffer.from(jwt, 'ascii'));
  }
}
