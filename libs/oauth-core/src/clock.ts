import { Inject } from '@nestjs/common';

/** The only source of time for domain code, so tests can pin it (RFC 9449 vectors date from 2019). */
export interface Clock {
  nowMs(): number;
  nowSeconds(): number;
}

export const CLOCK = Symbol('CLOCK');
export const InjectClock = (): ParameterDecorator => Inject(CLOCK);

export class SystemClock implements Clock {
  nowMs(): number {
    return Date.now();
  }
  nowSeconds(): number {
    return Math.floor(Date.now() / 1000);
  }
}

export class FixedClock implements Clock {
  constructor(private ms: number) {}
  nowMs(): number {
    return this.ms;
  }
  nowSeconds(): number {
    return Math.floor(this.ms / 1000);
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}
