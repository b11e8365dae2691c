import { Module } from '@nestjs/common';
import { DpopMetrics } from './dpop.metrics';
import { DpopService } from './dpop.service';

@Module({ providers: [DpopService, DpopMetrics], exports: [DpopService, DpopMetrics] })
export class DpopModule {}
