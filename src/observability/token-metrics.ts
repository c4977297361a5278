import type { IncomingMessage } from 'node:http';
import type { Provider } from 'oidc-provider';
import type { Metrics } from './metrics.ts';

/**
 * Counts every token request by outcome (issued, or the OAuth error) and client authentication method.
 * `isApiKeyRequest` tells the requests whose Basic credentials were an API key (the HTTP layer marks
 * them before oidc-provider sees a rewritten client_secret_basic header).
 */
export function observeTokenMetrics(
  provider: Provider,
  metrics: Metrics,
  isApiKeyRequest: (req: IncomingMessage) => boolean,
): void {
  /** How the client authenticated, for the token request counter. */
  const authMethod = (ctx: {
    req: IncomingMessage;
    oidc?: { client?: { clientAuthMethod?: string } };
  }): string => {
    if (isApiKeyRequest(ctx.req)) return 'api_key';
    return ctx.oidc?.client?.clientAuthMethod ?? 'unknown';
  };
  provider.on('grant.success', (ctx) => {
    metrics.tokenRequests.inc({ outcome: 'issued', auth_method: authMethod(ctx) });
  });
  provider.on('grant.error', (ctx, error: { error?: string }) => {
    metrics.tokenRequests.inc({ outcome: error.error ?? 'error', auth_method: authMethod(ctx) });
  });
  provider.on('server_error', (ctx) => {
    metrics.tokenRequests.inc({ outcome: 'server_error', auth_method: authMethod(ctx) });
  });
}
