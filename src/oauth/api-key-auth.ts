import type { Context, Next } from 'koa';
import { isLegacyKeyShape, legacyKeyId, parseApiKey } from '../domain/credential-format.ts';
import { oauthError } from '../http/middleware.ts';
import { readBasicCredentials } from './basic-credentials.ts';

/** Marks requests whose Basic credentials were an API key, for metrics and auditing. */
const API_KEY_REQUEST = Symbol('svcauth.apiKeyRequest');

interface MarkedRequest {
  [API_KEY_REQUEST]?: true;
}

export function isApiKeyRequest(req: object): boolean {
  return (req as MarkedRequest)[API_KEY_REQUEST] === true;
}

/** The HTTP Basic username under which an API key is presented as the password. */
export const API_KEY_USERNAME = 'api';

/**
 * An API key arrives as HTTP Basic `api:<key>`. The key embeds its key id, which is the credential's
 * client id, so the header is rewritten to `<key id>:<key>` and oidc-provider authenticates it like any
 * client_secret_basic client (bcrypt over the whole key). A key that fails its format or checksum is
 * refused here, before any database lookup or bcrypt call.
 */
export function apiKeyBasicAuth(issuer: string) {
  return async (ctx: Context, next: Next) => {
    const basic = readBasicCredentials(ctx.get('authorization'));
    if (basic?.id === API_KEY_USERNAME) {
      const key = basic.secret;
      const keyId = key === null ? null : keyIdOf(key);
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

/** The credential's client id an API key names (svcauth key id, or a legacy key's hash id); null for garbage. */
export function keyIdOf(key: string): string | null {
  const parsed = parseApiKey(key);
  if (parsed.ok) return parsed.keyId;
  // Keys imported from the legacy system keep working unchanged; they are found by a hash of the key.
  if (parsed.reason === 'format' && !key.startsWith('svcak_') && isLegacyKeyShape(key))
    return legacyKeyId(key);
  return null;
}
