import { Injectable } from '@nestjs/common';

/** Shared shutdown state: readiness fails as soon as draining starts (Kubernetes stops routing). */
@Injectable()
export class Lifecycle {
  private draining = false;

  get isDraining(): boolean {
    return this.draining;
  }

  startDraining(): void {
    this.draining = true;
  }
}
