/**
 * Row (c)'s baseline: a bare oidc-provider issuing an equivalent JWT (same algorithm, claims of the
 * same size) for one static in-memory client with a plaintext secret: no database, no bcrypt, no
 * revocation checks. It is the engine's ceiling on this machine. Started as its own process by the
 * benchmark; prints "ready" when listening.
 */
import { exportJWK, generateKeyPair } from 'jose';
import { Provider } from 'oidc-provider';

const port = Number(process.env.PORT ?? 0);
const issuer = process.env.ISSUER ?? `http://127.0.0.1:${port}`;
const audience = `${issuer}/api`;
const extraClaims = JSON.parse(process.env.EXTRA_CLAIMS ?? '{}') as Record<string, unknown>;

const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'bench', alg: 'ES256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench-client',
      client_secret: 'bench-secret-bench-secret-bench-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [jwk] },
  clientDefaults: { id_token_signed_response_alg: 'ES256', grant_types: ['client_credentials'] },
  responseTypes: ['none'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => false,
      getResourceServerInfo: () => ({
        audience,
        scope: 'items:read',
        accessTokenFormat: 'jwt',
        accessTokenTTL: 300,
        jwt: { sign: { alg: 'ES256', kid: 'bench' } },
      }),
    },
  },
  formats: {
    customizers: {
      jwt: (_ctx, _token, jwt) => {
        Object.assign(jwt.payload, extraClaims);
      },
    },
  },
});
const server = provider.listen(port, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`ready ${typeof address === 'object' && address ? address.port : port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
