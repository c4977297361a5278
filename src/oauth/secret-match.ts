import { isPreviousSecretLive, type SecretMatch } from '../domain/secret-versions.ts';
import type { Credential } from '../persistence/schema.ts';
import type { SecretVerifier } from './secret-verification.ts';

/**
 * Which of a credential's secrets a presented one is: the current one, or its predecessor during a
 * regeneration's grace period (domain/secret-versions.ts), or neither. Three ways of asking, from the
 * cheapest: memory only (`recognizedSecret`), the records the instances share (`recalledSecret`),
 * bcrypt (`matchingSecret`). Tokens carry the matched secret's version.
 */
type Check = (credentialId: string, secret: string, hash: string) => boolean;
type AsyncCheck = (credentialId: string, secret: string, hash: string) => Promise<boolean>;

function livePredecessor(credential: Credential): string | null {
  const previous = credential.previous_secret_hash;
  return previous && isPreviousSecretLive(credential.previous_secret_expires_at, new Date())
    ? previous
    : null;
}

function matchWith(check: Check, credential: Credential, secret: string): SecretMatch | null {
  if (!credential.secret_hash) return null;
  if (check(credential.id, secret, credential.secret_hash)) return 'current';
  const previous = livePredecessor(credential);
  return previous && check(credential.id, secret, previous) ? 'previous' : null;
}

async function matchWithAsync(
  check: AsyncCheck,
  credential: Credential,
  secret: string,
): Promise<SecretMatch | null> {
  if (!credential.secret_hash) return null;
  if (await check(credential.id, secret, credential.secret_hash)) return 'current';
  const previous = livePredecessor(credential);
  return previous && (await check(credential.id, secret, previous)) ? 'previous' : null;
}

/** As verified before, from memory only: the warm path, no await. */
export function recognizedSecret(
  secrets: SecretVerifier,
  credential: Credential,
  secret: string,
): SecretMatch | null {
  return matchWith((id, s, hash) => secrets.recognizes(id, s, hash), credential, secret);
}

/** As verified before by any instance (the shared records; one state-store read), no bcrypt. */
export function recalledSecret(
  secrets: SecretVerifier,
  credential: Credential,
  secret: string,
): Promise<SecretMatch | null> {
  return matchWithAsync((id, s, hash) => secrets.recall(id, s, hash), credential, secret);
}

/** Evaluated: memory, the shared records, then bcrypt. */
export function matchingSecret(
  secrets: SecretVerifier,
  credential: Credential,
  secret: string,
): Promise<SecretMatch | null> {
  return matchWithAsync((id, s, hash) => secrets.verify(id, s, hash), credential, secret);
}

/** Whether the secret is the credential's current one or its live predecessor (evaluated). */
export async function secretMatches(
  secrets: SecretVerifier,
  credential: Credential,
  secret: string,
): Promise<boolean> {
  return (await matchingSecret(secrets, credential, secret)) !== null;
}
