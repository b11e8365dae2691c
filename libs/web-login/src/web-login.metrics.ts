import { Injectable } from '@nestjs/common';
import { MetricsRegistry } from '@fpa/platform';

/**
 * The browser login's metrics: one count per answer, by step (`authorize`: GET /authorize;
 * `login`: POST /authorize/login) and outcome — `page` (the next form), `code` (back to the client
 * with a code), `redirect_<error>` (back with an OAuth error), or `refused_<reason>` (an error page:
 * `csrf`, `binding`, `expired`, `request`, …). A rise of `refused_csrf` or `refused_binding` is
 * forms posted from elsewhere.
 */
@Injectable()
export class WebLoginMetrics {
  readonly answers;

  constructor(registry: MetricsRegistry) {
    this.answers = registry.counter({
      name: 'fpa_web_login_total',
      help: 'Browser login answers by step (authorize, login) and outcome (page, code, redirect_<error>, refused_<reason>).',
      labelNames: ['step', 'outcome'] as const,
    });
  }
}
