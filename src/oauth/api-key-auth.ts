import { isLegacyKeyShape, parseApiKey } from '../domain/credential-format.ts';

/** The HTTP Basic username under which an API key is presented as the password. */
export const API_KEY_USERNAME = 'api';

/** Finds the client id of an imported legacy key (src/services/legacy-key-lookup.ts). */
export interface LegacyKeyResolver {
  clientIdOf(key: string): Promise<string | null>;
}

/**
 * The credential's client id an API key names: the key id embedded in an svcauth key, or the random
 * id of the imported legacy key it is (found through a keyed hash of the key); null for garbage.
 */
export async function keyIdOf(key: string, legacyKeys: LegacyKeyResolver): Promise<string | null> {
  const parsed = parseApiKey(key);
  if (parsed.ok) return parsed.keyId;
  // Keys imported from the legacy system keep working unchanged.
  if (parsed.reason === 'format' && !key.startsWith('svcak_') && isLegacyKeyShape(key)) {
    return legacyKeys.clientIdOf(key);
  }
  return null;
}
