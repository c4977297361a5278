import type { Provider } from 'oidc-provider';
import type { Logger } from '../logging/logger.ts';
import type { AuditRepository } from '../persistence/repositories/audit-repository.ts';
import type { LockoutService } from '../services/lockout-service.ts';
import type { UsageRecorder } from '../persistence/usage-recorder.ts';
import {
  attemptCredential,
  isCounted,
  isLockoutRefusal,
  presentedClientId,
  tokenAttempt,
} from './lockout-guard.ts';
import { getRequestSubject } from './request-subject.ts';

/**
 * What happens after oidc-provider answers a token request: a success updates the credential's usage
 * (coalesced, off the request path); a failed authentication of a known credential goes to its
 * organization's audit trail. Unknown client ids belong to no organization and are only logged.
 * Every failed client authentication also counts towards the brute-force limits (LockoutService):
 * most before their secret is evaluated, the others here.
 */
export function observeTokenOutcomes(
  provider: Provider,
  deps: { usage: UsageRecorder; audit: AuditRepository; logger: Logger; lockout?: LockoutService },
): void {
  provider.on('grant.success', (ctx) => {
    const subject = getRequestSubject(ctx);
    if (subject) deps.usage.record(subject.credential.id, ctx.ip);
  });
  provider.on('grant.error', (ctx, error: { error?: string; status?: number }) => {
    if (error.error !== 'invalid_client' || isLockoutRefusal(error)) return;
    const subject = getRequestSubject(ctx);
    const requestId = ctx.response.get('X-Request-Id') || null;
    // Most failures were counted before their secret was evaluated (lockout-guard.ts); the rest, such
    // as a private_key_jwt assertion oidc-provider refused, are counted here, off the response path.
    if (!isCounted(ctx)) {
      void deps.lockout?.recordFailure(tokenAttempt(ctx, presentedClientId(ctx)), attemptCredential(subject));
    }
    if (!subject) {
      deps.logger.info(
        { request_id: requestId, ip: ctx.ip },
        'token request with an unknown or unusable client',
      );
      return;
    }
    deps.audit
      .record({
        orgId: subject.organization.id,
        action: 'token.authentication_failed',
        outcome: 'failure',
        actorAccountId: subject.account.id,
        actorCredentialId: subject.credential.id,
        targetType: 'credential',
        targetId: subject.credential.id,
        sourceIp: ctx.ip,
        requestId,
      })
      .catch((auditError: unknown) =>
        deps.logger.error(
          { err: auditError, request_id: requestId },
          'could not audit a failed authentication',
        ),
      );
  });
}
