import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { validatePublicJwks } from '../domain/client-keys.ts';
import {
  displayHint,
  generateApiKey,
  generateClientId,
  generateClientSecret,
  generateLegacyKeyClientId,
  LEGACY_KEY_DISPLAY_HINT,
} from '../domain/credential-format.ts';
import type { CredentialSlot, CredentialType } from '../domain/status.ts';
import { CredentialRepository } from '../persistence/repositories/credential-repository.ts';
import type { Credential, Database } from '../persistence/schema.ts';
import type { SecretHasher } from '../keys/secret-hasher.ts';

export interface CredentialRequest {
  orgId: string;
  accountId: string;
  type: CredentialType;
  name: string;
  expiresAt?: Date | null;
  /** private_key_jwt only: the client's public JWK set. */
  jwks?: unknown;
  lineageId?: string;
  slot?: CredentialSlot;
  createdBy?: { accountId: string | null; credentialId: string | null };
}

/** A created credential and the secret to show once: the client secret, or the whole API key. */
export interface IssuedCredential {
  credential: Credential;
  secret: string | null;
}

/** The secret material of a new credential, prepared outside any transaction (bcrypt is slow). */
export interface PreparedSecret {
  clientId: string;
  secret: string | null;
  secretHash: string | null;
  hint: string;
  /** Imported legacy keys only: the keyed hash that finds the row (see LegacyKeyLookup). */
  legacyLookup: string | null;
}

export async function prepareSecret(
  hasher: SecretHasher,
  type: CredentialType,
  legacy?: { key: string; lookup: string },
): Promise<PreparedSecret> {
  if (type === 'private_key_jwt') {
    return { clientId: generateClientId(), secret: null, secretHash: null, hint: '', legacyLookup: null };
  }
  if (type === 'api_key') {
    if (legacy !== undefined) {
      // A random public id and a hint without characters: nothing shown says anything about the key.
      return {
        clientId: generateLegacyKeyClientId(),
        secret: null,
        secretHash: await hasher.hash(legacy.key),
        hint: LEGACY_KEY_DISPLAY_HINT,
        legacyLookup: legacy.lookup,
      };
    }
    const { keyId, key } = generateApiKey();
    return {
      clientId: keyId,
      secret: key,
      secretHash: await hasher.hash(key),
      hint: displayHint(key),
      legacyLookup: null,
    };
  }
  const secret = generateClientSecret();
  return {
    clientId: generateClientId(),
    secret,
    secretHash: await hasher.hash(secret),
    hint: displayHint(secret),
    legacyLookup: null,
  };
}

/** Stores a credential whose secret was prepared with prepareSecret; runs inside the caller's transaction. */
export async function insertCredential(
  db: Kysely<Database>,
  request: CredentialRequest,
  prepared: PreparedSecret,
): Promise<IssuedCredential> {
  const id = randomUUID();
  const jwks = request.type === 'private_key_jwt' ? await validatePublicJwks(request.jwks) : null;
  const credential = await new CredentialRepository(db).create({
    id,
    org_id: request.orgId,
    service_account_id: request.accountId,
    type: request.type,
    name: request.name,
    client_id: prepared.clientId,
    secret_hash: prepared.secretHash,
    jwks: jwks ? JSON.stringify(jwks) : null,
    display_hint: prepared.hint,
    lineage_id: request.lineageId ?? id,
    slot: request.slot ?? 'primary',
    is_legacy: prepared.legacyLookup !== null,
    legacy_lookup: prepared.legacyLookup,
    expires_at: request.expiresAt ?? null,
    created_by_account_id: request.createdBy?.accountId ?? null,
    created_by_credential_id: request.createdBy?.credentialId ?? null,
  });
  return { credential, secret: prepared.secret };
}
