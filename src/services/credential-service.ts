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
import { assertCredentialTypeAllowed } from '../domain/credential-lifecycle.ts';
import { checkCredentialExpiry, checkCredentialQuota } from '../domain/rotation.ts';
import type { CredentialSlot, CredentialType } from '../domain/status.ts';
import { CredentialRepository } from '../persistence/repositories/credential-repository.ts';
import type {
  ActorSnapshot,
  Credential,
  Database,
  Organization,
  ServiceAccount,
} from '../persistence/schema.ts';
import type { SecretHasher } from '../keys/secret-hasher.ts';
import { actorSnapshot, type AdminActor, recordAudit } from './admin-actor.ts';
import { type CredentialView, credentialView } from './admin-views.ts';

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
  createdBy?: { accountId: string | null; credentialId: string | null; actor?: ActorSnapshot | null };
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
    created_by_actor: request.createdBy?.actor ? JSON.stringify(request.createdBy.actor) : null,
  });
  return { credential, secret: prepared.secret };
}

export interface NewCredentialInput {
  name: string;
  type: CredentialType;
  expires_at?: string | undefined;
  jwks?: unknown;
}

/** The secret is shown once: `client_secret` for an OAuth client, `api_key` for an API key. */
export type IssuedCredentialView = CredentialView & { client_secret?: string; api_key?: string };

/**
 * Issues a credential to an account the caller has locked (or just created) in `trx`, within the
 * organization's API security settings (allowed types, maximum lifetime, maximum per account), and
 * audits it. `authorize` (whether the actor may act on the account) runs once the settings allow it.
 */
export async function issueCredential(
  trx: Kysely<Database>,
  actor: AdminActor,
  owner: { account: ServiceAccount; organization: Organization },
  input: NewCredentialInput,
  prepared: PreparedSecret,
  authorize: () => Promise<void> = async () => {},
): Promise<IssuedCredentialView> {
  const { account, organization } = owner;
  assertCredentialTypeAllowed(input.type, organization.allowed_credential_types);
  const now = new Date();
  const expiresAt = checkCredentialExpiry({
    now,
    requestedExpiresAt: input.expires_at ? new Date(input.expires_at) : null,
    maxLifetimeSeconds: organization.max_credential_lifetime_seconds,
  });
  checkCredentialQuota(
    await new CredentialRepository(trx).countLive(account.id, now),
    organization.max_credentials_per_account,
  );
  await authorize();
  const { credential, secret } = await insertCredential(
    trx,
    {
      orgId: actor.orgId,
      accountId: account.id,
      type: input.type,
      name: input.name,
      expiresAt,
      jwks: input.jwks,
      createdBy: createdBy(actor),
    },
    prepared,
  );
  const view = credentialView(credential, now);
  await recordAudit(trx, actor, {
    action: 'credential.created',
    targetType: 'credential',
    targetId: credential.id,
    diff: { after: view },
  });
  return withSecret(view, credential.type, secret);
}

/** A person's delegating credential belongs to another organization: only the snapshot names it. */
export function createdBy(actor: AdminActor) {
  return actor.kind === 'admin'
    ? { accountId: actor.accountId, credentialId: actor.credentialId, actor: actorSnapshot(actor) }
    : { accountId: null, credentialId: null, actor: actorSnapshot(actor) };
}

export function withSecret(
  view: CredentialView,
  type: CredentialType,
  secret: string | null,
): IssuedCredentialView {
  if (secret === null) return view;
  return type === 'api_key' ? { ...view, api_key: secret } : { ...view, client_secret: secret };
}
