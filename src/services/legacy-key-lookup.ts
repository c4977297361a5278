import type { Kysely } from 'kysely';
import { BoundedCache } from '../cache/bounded-cache.ts';
import { legacyKeyLookups } from '../domain/credential-format.ts';
import type { Database } from '../persistence/schema.ts';

/** What a presented legacy key resolves to: its credential's public client id and where it lives. */
export interface LegacyKeyMatch {
  credentialId: string;
  orgId: string;
  clientId: string;
  serviceAccountId: string;
}

/**
 * Finds an imported legacy key's row from the key itself, through `credentials.legacy_lookup` (an HMAC
 * of the key under the server's legacy key id secrets, current first). A row still found by an older
 * value (a previous secret, or the unsalted digest kept by migration 0004) is moved to the current
 * HMAC on the spot: only someone presenting the key can produce the value that found it, so the move
 * reveals nothing and needs no bcrypt first. The bcrypt hash still decides whether the key is right.
 */
export class LegacyKeyLookup {
  readonly #db: Kysely<Database>;
  readonly #secrets: readonly Uint8Array[];
  /** Current HMAC -> match; ids never change, and a revoked or deleted row is refused downstream. */
  readonly #known = new BoundedCache<string, LegacyKeyMatch>({ maxEntries: 10_000, ttlMs: 300_000 });

  constructor(db: Kysely<Database>, secrets: readonly Uint8Array[]) {
    if (secrets.length === 0) throw new Error('LegacyKeyLookup needs at least one secret');
    this.#db = db;
    this.#secrets = secrets;
  }

  /** The lookup value a newly imported key is stored with. */
  currentLookup(key: string): string {
    return legacyKeyLookups(key, this.#secrets.slice(0, 1))[0]!;
  }

  /** `db`: the caller's transaction when it has one (the embedded database has a single connection). */
  async find(key: string, db: Kysely<Database> = this.#db): Promise<LegacyKeyMatch | null> {
    const lookups = legacyKeyLookups(key, this.#secrets);
    const current = lookups[0]!;
    const cached = this.#known.get(current);
    if (cached) return cached;
    const rows = await db
      .selectFrom('credentials')
      .select(['id', 'org_id', 'client_id', 'service_account_id', 'legacy_lookup'])
      .where('legacy_lookup', 'in', lookups)
      .execute();
    // At most one row per key (the lookup index is unique, and the import refuses a key found by any
    // of its values); the current value first if several ever matched.
    const row = rows.sort((a, b) => lookups.indexOf(a.legacy_lookup!) - lookups.indexOf(b.legacy_lookup!))[0];
    if (!row) return null;
    if (row.legacy_lookup !== current) {
      await db
        .updateTable('credentials')
        .set({ legacy_lookup: current })
        .where('id', '=', row.id)
        .where('legacy_lookup', '=', row.legacy_lookup)
        .execute();
    }
    const match = {
      credentialId: row.id,
      orgId: row.org_id,
      clientId: row.client_id,
      serviceAccountId: row.service_account_id,
    };
    this.#known.set(current, match);
    return match;
  }

  /** The client id an API key presented as a legacy key names; null when no imported key matches. */
  async clientIdOf(key: string): Promise<string | null> {
    return (await this.find(key))?.clientId ?? null;
  }
}
