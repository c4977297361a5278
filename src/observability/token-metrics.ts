import type { IncomingMessage } from 'node:http';
import type { Provider } from 'oidc-provider';
import { isApiKeyRequest } from '../oauth/api-key-auth.ts';
import type { Metrics } from './metrics.ts';

/** How the client authenticated, for the token request counter. */
function authMethod(ctx: {
  req: IncomingMessage;
  oidc?: { client?: { clientAuthMethod?: string } };
}): string {
  if (isApiKeyRequest(ctx.req)) return 'api_key';
  return ctx.oidc?.client?.clientAuthMethod ?? 'unknown';
}

/** Counts every token request by outcome (issued, or the OAuth error) and client authentication method. */
export function observeTokenMetrics(provider: Provider, metrics: Metrics): void {
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
