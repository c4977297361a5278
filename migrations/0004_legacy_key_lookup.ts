import { type Kysely, sql } from 'kysely';

/**
 * Imported legacy keys were identified by an unsalted SHA-256 of the key, shown as their client_id
 * everywhere (tokens, introspection, listings, audit), and their display hint showed the key's last 4
 * characters: a short key could be recovered offline. From now on a legacy key's client_id is random
 * and its row is found through `legacy_lookup`, an HMAC of the key under a server secret kept outside
 * the database.
 *
 * Rows imported before cannot get an HMAC here (that needs the key), so each keeps the old digest as
 * an internal lookup value (`sha256:...`, never shown) until its key is next presented, when svcauth
 * replaces it with the HMAC (src/services/legacy-key-lookup.ts). Their public client_id becomes random
 * now, so tokens issued before this migration name a client id that no longer exists and are refused
 * by the management API; they expire within the organization's token lifetime. Their hint and the
 * audit events that recorded the old id and hint are rewritten, so nothing shown keeps the digest.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table credentials add column legacy_lookup text
      check (legacy_lookup ~ '^(hmac:[0-9a-f]{64}|sha256:[0-9a-f]{24})$')`.execute(db);
  await sql`
    create unique index credentials_legacy_lookup on credentials (legacy_lookup)
    where legacy_lookup is not null`.execute(db);
  await rekeyImportedLegacyKeys(db);
}

/**
 * Moves every legacy row still identified by its unsalted digest to a random public id. Idempotent:
 * rows already moved (or imported after this migration) have a lookup value and are left alone.
 */
export async function rekeyImportedLegacyKeys(db: Kysely<unknown>): Promise<number> {
  const moved = await sql<{ id: string }>`
    update credentials
       set legacy_lookup = 'sha256:' || substr(client_id, 8),
           client_id = 'legacy_' || replace(gen_random_uuid()::text, '-', ''),
           display_hint = 'legacy_…'
     where is_legacy and legacy_lookup is null and client_id ~ '^legacy_[0-9a-f]{24}$'
     returning id`.execute(db);
  await sql`
    update audit_events a
       set diff = jsonb_set(jsonb_set(a.diff, '{after,client_id}', to_jsonb(c.client_id)),
                            '{after,display_hint}', to_jsonb(c.display_hint))
      from credentials c
     where a.action = 'legacy_key.imported'
       and a.diff->'after'->>'credential_id' = c.id::text
       and c.is_legacy
       and a.diff->'after'->>'client_id' is distinct from c.client_id`.execute(db);
  return moved.rows.length;
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // The unsalted digests cannot be restored for keys already moved to an HMAC; drop the column only.
  await sql`drop index if exists credentials_legacy_lookup`.execute(db);
  await sql`alter table credentials drop column if exists legacy_lookup`.execute(db);
}
