import type { Context, Next } from 'koa';
import { API_KEY_USERNAME, keyIdOf, type LegacyKeyResolver } from '../oauth/api-key-auth.ts';
import { readBasicCredentials } from '../oauth/basic-credentials.ts';
import { oauthError } from './middleware.ts';

/** Marks requests whose Basic credentials were an API key, for metrics and auditing. */
const API_KEY_REQUEST = Symbol('svcauth.apiKeyRequest');

interface MarkedRequest {
  [API_KEY_REQUEST]?: true;
}

export function isApiKeyRequest(req: object): boolean {
  return (req as MarkedRequest)[API_KEY_REQUEST] === true;
}

/**
 * An API key arrives as HTTP Basic `api:<key>`. The key embeds its key id, which is the credential's
 * client id, so the header is rewritten to `<key id>:<key>` and oidc-provider authenticates it like any
 * client_secret_basic client (bcrypt over the whole key). A key that fails its format or checksum is
 * refused here, before any database lookup or bcrypt call.
 */
export function apiKeyBasicAuth(issuer: string, legacyKeys: LegacyKeyResolver) {
  return async (ctx: Context, next: Next) => {
    const basic = readBasicCredentials(ctx.get('authorization'));
    if (basic?.id === API_KEY_USERNAME) {
      const key = basic.secret;
      const keyId = key === null ? null : await keyIdOf(key, legacyKeys);
      if (key === null || keyId === null) {
        return oauthError(ctx, 401, 'invalid_client', 'client authentication failed', issuer);
      }
      const rewritten = `${encodeURIComponent(keyId)}:${encodeURIComponent(key)}`;
      ctx.req.headers.authorization = `Basic ${Buffer.from(rewritten).toString('base64')}`;
      (ctx.req as MarkedRequest)[API_KEY_REQUEST] = true;
    }
    await next();
  };
}
