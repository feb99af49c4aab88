import { Inject, Injectable } from '@nestjs/common';
import { SERVICE_CONTEXT } from '@spincycle/common/nest';
import type { ServiceContext } from '@spincycle/common';
import { Counter } from 'prom-client';

/** user-service's own metrics, on the service registry that /metrics exposes. */
@Injectable()
export class AccountMetrics {
  readonly loginFailures: Counter<'reason'>;
  /** Alert on any increase: sign-ups and password changes are refused while it grows. */
  readonly leakCheckUnavailable: Counter;

  constructor(@Inject(SERVICE_CONTEXT) context: ServiceContext) {
    const registers = [context.metrics.registry];
    this.loginFailures = new Counter({
      name: 'user_login_failures_total',
      help: 'Failed logins by reason (bad_credentials, locked)',
      labelNames: ['reason'] as const,
      registers,
    });
    this.leakCheckUnavailable = new Counter({
      name: 'user_leak_check_unavailable_total',
      help: 'Leaked-password checks that could not be made (hibp-service unreachable or answering badly)',
      registers,
    });
  }
}
