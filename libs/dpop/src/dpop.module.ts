import { Module } from '@nestjs/common';
import { DpopService } from './dpop.service';

@Module({ providers: [DpopService], exports: [DpopService] })
export class DpopModule {}
