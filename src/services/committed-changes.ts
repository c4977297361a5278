import type { Kysely } from 'kysely';
import { RevocationOutboxRepository } from '../persistence/repositories/revocation-outbox-repository.ts';
import type { Database } from '../persistence/schema.ts';
import { entryForChange } from '../revocation/entries.ts';
import type { ChangeEvent } from '../state/change-notifier.ts';

/** Where committed changes are announced, so every instance drops what its caches hold about them. */
export interface ChangePublisher {
  publish(event: ChangeEvent): Promise<void>;
}

/**
 * Runs `work` in a transaction, then (only once it committed) announces the changes it reported.
 * Announcing earlier could let another instance reload the old rows before the commit. The feed
 * entries the changes call for (a revoked credential, a permissions version, the API switched) are
 * written to the revocation outbox in the same transaction: once the caller is answered, the feed is
 * bound to carry them, even if this instance dies before the state store hears of them.
 */
export async function transactionWithChanges<T>(
  db: Kysely<Database>,
  changes: ChangePublisher,
  work: (trx: Kysely<Database>, changed: (event: ChangeEvent) => void) => Promise<T>,
): Promise<T> {
  const events: ChangeEvent[] = [];
  const result = await db.transaction().execute(async (trx) => {
    const result = await work(trx, (event) => events.push(event));
    const now = Date.now();
    // The change rides along: if this instance cannot announce it (cut off from the state store),
    // whichever instance relays the row announces it instead.
    await new RevocationOutboxRepository(trx).add(
      events.flatMap((event) => {
        const entry = entryForChange(event, now);
        return entry ? [{ entry, change: event }] : [];
      }),
    );
    return result;
  });
  for (const event of events) await changes.publish(event);
  return result;
}
