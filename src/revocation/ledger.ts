import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import { randomBase62 } from '../domain/credential-format.ts';
import type { Logger } from '../logging/logger.ts';
import { RevocationOutboxRepository } from '../persistence/repositories/revocation-outbox-repository.ts';
import { RevocationRepository } from '../persistence/repositories/revocation-repository.ts';
import type { Database } from '../persistence/schema.ts';
import type { ChangeEvent, ChangeNotifier } from '../state/change-notifier.ts';
import type { LogRead, StateStore } from '../state/state-store.ts';
import {
  entriesFromRecords,
  entryForChange,
  entryMember,
  REVOCATION_HORIZON_SECONDS,
  type RevocationEntry,
  tokenEntry,
} from './entries.ts';

/** Pub/sub channel on which instances tell each other that the log grew, or that the index was rebuilt. */
export const FEED_CHANNEL = 'revocations:feed';
export type FeedMessage = { type: 'appended'; id: string } | { type: 'rebuilt'; epoch: string };

const LOG = 'revocations';
const INDEX = 'revocations';
/** Holds the epoch; its absence means the state store lost the revocation state (flushed, replaced). */
const EPOCH_KEY = 'revocations:epoch';
const REBUILD_LOCK_KEY = 'revocations:rebuild-lock';
/** The log keeps this many entries; a subscriber further behind gets a new snapshot. */
export const FEED_LOG_LENGTH = 10_000;
const CHECK_INTERVAL_MS = 5_000;
/** How often every instance looks for outbox rows no one relayed (their instance died, Redis was down). */
const RELAY_POLL_INTERVAL_MS = 1_000;
/** Another instance held the relay when this one committed: look again soon, not at the next poll. */
const RELAY_BUSY_RETRY_MS = 50;
const RELAY_BATCH = 100;
/**
 * A row waiting in the outbox longer than this means the feed is behind the database (the state store
 * does not take writes, or the relay is stuck): feed streams stop vouching for freshness.
 */
const OUTBOX_LAG_LIMIT_MS = 5_000;
const PRUNE_INTERVAL_MS = 60_000;
/** The epoch key must outlive any deployment; it is replaced only by a rebuild. */
const EPOCH_TTL_SECONDS = 10 * 365 * 24 * 3600;
const REBUILD_LOCK_SECONDS = 60;
const REBUILD_WAIT_MS = 10_000;

export interface LedgerSnapshot {
  epoch: string;
  /** Log position the snapshot is current with: events after it follow. */
  position: string;
  generatedAt: number;
  entries: RevocationEntry[];
}

/**
 * The durable side of revocation. A revocation's feed entry is written to the outbox table in the same
 * transaction as the revocation (transactionWithChanges, revokeToken), so it is durable before the
 * caller is answered. The outbox is relayed to the state store, into the index of active entries (what
 * a snapshot lists) and onto the log (what subscribers resume from), nudging every instance over
 * pub/sub: at once by the instance that committed, and by any instance's poll when that failed (the
 * state store did not answer, or the instance died). Postgres stays the source of truth: when the state
 * store comes back without the epoch key (flushed, replaced, or the in-process store of a fresh
 * process), one instance rebuilds the index from the database under a new epoch, which makes every
 * older cursor too old.
 */
export class RevocationLedger {
  readonly #state: StateStore;
  readonly #repository: RevocationRepository;
  readonly #db: Kysely<Database>;
  readonly #outbox: RevocationOutboxRepository;
  readonly #logger: Logger;
  readonly #instance = randomBase62(16);
  #epoch: string | null = null;
  readonly #epochListeners = new Set<(epoch: string) => void>();
  /** Announces the changes carried by relayed outbox rows; set by start(). */
  #notifier: ChangeNotifier | null = null;
  #relaying: Promise<void> | null = null;
  #relayAgain = false;
  #busyRetry: NodeJS.Timeout | undefined;
  /** The oldest outbox row the poll saw, and since when (this instance's clock) it has been waiting. */
  #oldestPending: { id: string; since: number } | null = null;
  #checking: Promise<string> | null = null;
  readonly #timers: NodeJS.Timeout[] = [];
  #closed = false;

  constructor(deps: { state: StateStore; db: Kysely<Database>; logger: Logger }) {
    this.#state = deps.state;
    this.#repository = new RevocationRepository(deps.db);
    this.#db = deps.db;
    this.#outbox = new RevocationOutboxRepository(deps.db);
    this.#logger = deps.logger;
  }

  /** Relays what this instance's committed changes wrote to the outbox, and keeps the index present and pruned. */
  start(notifier: ChangeNotifier): void {
    this.#notifier = notifier;
    // The entry is already in the outbox (same transaction as the change): relay it now.
    notifier.onLocalPublish((event) => (entryForChange(event, Date.now()) ? this.relay() : undefined));
    // Heartbeats resumed after a gap: the state store may have been restarted empty.
    notifier.onResync(() => void this.#checkQuietly());
    const every = (ms: number, run: () => void) => {
      const timer = setInterval(run, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(CHECK_INTERVAL_MS, () => void this.#checkQuietly());
    every(RELAY_POLL_INTERVAL_MS, () => void this.#pollOutbox());
    every(PRUNE_INTERVAL_MS, () => void this.#prune());
    void this.#checkQuietly();
  }

  /**
   * Whether a committed revocation has waited in the outbox for longer than the lag limit, as of the
   * last poll: the feed cannot then claim to carry everything the database holds.
   */
  get behind(): boolean {
    return this.#oldestPending !== null && Date.now() - this.#oldestPending.since > OUTBOX_LAG_LIMIT_MS;
  }

  /** The epoch last seen; null before the first check. */
  get knownEpoch(): string | null {
    return this.#epoch;
  }

  /** Called when the epoch changes (a rebuild happened, here or elsewhere). */
  onEpochChange(listener: (epoch: string) => void): () => void {
    this.#epochListeners.add(listener);
    return () => this.#epochListeners.delete(listener);
  }

  /**
   * POST /revoke: the revoked token and its feed entry in one transaction (the database is the source
   * of truth; the outbox row makes the feed bound to carry it), then the relay.
   */
  async revokeToken(token: {
    jti: string;
    orgId: string;
    clientId: string;
    expiresAt: number;
  }): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await new RevocationRepository(trx).recordRevokedToken({
        ...token,
        expiresAt: new Date(token.expiresAt * 1000),
      });
      await new RevocationOutboxRepository(trx).add([{ entry: tokenEntry(token) }]);
    });
    await this.relay();
  }

  /**
   * Writes every outbox row to the state store, oldest first, and deletes it. Never throws: what could
   * not be written stays in the outbox, and the poll (of this or any instance) tries again. One relay at
   * a time per instance; a call during one gets the pass after it.
   */
  relay(): Promise<void> {
    if (this.#relaying) {
      this.#relayAgain = true;
      return this.#relaying;
    }
    this.#relaying = (async () => {
      try {
        do {
          this.#relayAgain = false;
          await this.#relayOutbox();
        } while (this.#relayAgain && !this.#closed);
      } finally {
        this.#relaying = null;
      }
    })();
    return this.#relaying;
  }

  /** The current epoch; rebuilds the index from the database first if the state store lost it. */
  epoch(): Promise<string> {
    this.#checking ??= this.#check().finally(() => {
      this.#checking = null;
    });
    return this.#checking;
  }

  /** Every active entry, and the log position it is current with. */
  async snapshot(): Promise<LedgerSnapshot> {
    for (let attempt = 0; ; attempt++) {
      const epoch = await this.epoch();
      // Position first: an entry appended after it reaches the index before the log, so it is either
      // in this snapshot or after its position (or both, which is harmless).
      const position = await this.#state.lastLogId(LOG);
      const nowMs = Date.now();
      const indexed = await this.#state.indexRange(INDEX, Math.floor(nowMs / 1000));
      // The state store was emptied while we read: what we read may be missing entries.
      if ((await this.#state.get(EPOCH_KEY)) !== epoch) {
        if (attempt >= 2) throw new Error('the revocation state changed while it was read');
        continue;
      }
      const entries: RevocationEntry[] = [];
      for (const { value } of indexed) {
        const entry = parseStoredEntry(value);
        if (entry) entries.push(entry);
      }
      return { epoch, position, generatedAt: Math.floor(nowMs / 1000), entries };
    }
  }

  /** The position of the newest log entry (`0-0` when the log is empty). */
  tip(): Promise<string> {
    return this.#state.lastLogId(LOG);
  }

  readLog(afterPosition: string, limit: number): Promise<LogRead> {
    return this.#state.readLog(LOG, afterPosition, limit);
  }

  /** Learns of an epoch from another instance's rebuild message. */
  noteEpoch(epoch: string): void {
    this.#setEpoch(epoch);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    clearTimeout(this.#busyRetry);
    // Whatever is still in the outbox is relayed by another instance (or this one's successor).
    await this.#relaying;
  }

  async #write(entry: RevocationEntry): Promise<void> {
    const value = JSON.stringify(entry);
    // Index before log: see snapshot().
    await this.#state.indexPut(INDEX, entryMember(entry), value, entry.until);
    const id = await this.#state.appendLog(LOG, value, FEED_LOG_LENGTH);
    try {
      const message: FeedMessage = { type: 'appended', id };
      await this.#state.publish(FEED_CHANNEL, JSON.stringify(message));
    } catch (error) {
      // Recorded; instances also read the log every few seconds, so subscribers still get it.
      this.#logger.warn({ err: error }, 'could not announce a revocation to other instances');
    }
  }

  async #relayOutbox(): Promise<void> {
    for (;;) {
      let outcome: Awaited<ReturnType<RevocationOutboxRepository['relay']>>;
      try {
        outcome = await this.#outbox.relay(RELAY_BATCH, async (row) => {
          const entry = parseStoredEntry(row.entry);
          if (entry) await this.#write(entry);
          // The instance that committed may not have reached the state store: its announcement then
          // reached no one, and other instances' caches would keep the revoked state until expiry.
          // Announcing it again from here costs one message when it did (caches drop entries twice).
          const change = row.change === null ? null : parseStoredChange(row.change);
          if (change) await this.#notifier?.republish(change);
        });
      } catch (error) {
        this.#logger.warn({ err: error }, 'could not relay revocations from the outbox; retrying');
        return;
      }
      if (outcome === null) {
        // Another instance is relaying; rows committed after it read the outbox may wait for its next
        // pass or our poll: look again shortly.
        if (!this.#closed) {
          clearTimeout(this.#busyRetry);
          this.#busyRetry = setTimeout(() => void this.relay(), RELAY_BUSY_RETRY_MS);
          this.#busyRetry.unref();
        }
        return;
      }
      if (outcome.failed) {
        this.#logger.warn(
          { err: outcome.failed, relayed: outcome.written },
          'could not write revocations to the state store; they stay in the outbox and are retried',
        );
        return;
      }
      if (!outcome.more) {
        this.#oldestPending = null;
        return;
      }
      if (this.#closed) return;
    }
  }

  async #pollOutbox(): Promise<void> {
    if (this.#closed || this.#relaying) return;
    try {
      const oldest = await this.#outbox.oldestPendingId();
      if (oldest === null) {
        this.#oldestPending = null;
        return;
      }
      if (this.#oldestPending?.id !== oldest) this.#oldestPending = { id: oldest, since: Date.now() };
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not read the revocation outbox');
      return;
    }
    await this.relay();
  }

  async #check(): Promise<string> {
    const epoch = (await this.#state.get(EPOCH_KEY)) ?? (await this.#rebuild());
    this.#setEpoch(epoch);
    return epoch;
  }

  async #checkQuietly(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.epoch();
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not check the revocation state in the state store');
    }
  }

  /** One instance rebuilds (under a lock); the others wait for the new epoch. */
  async #rebuild(): Promise<string> {
    const deadline = Date.now() + REBUILD_WAIT_MS;
    for (;;) {
      if (await this.#state.setIfAbsent(REBUILD_LOCK_KEY, this.#instance, REBUILD_LOCK_SECONDS)) {
        try {
          return (await this.#state.get(EPOCH_KEY)) ?? (await this.#rebuildLocked());
        } finally {
          await this.#state.delete(REBUILD_LOCK_KEY).catch(() => {});
        }
      }
      await sleep(100);
      const epoch = await this.#state.get(EPOCH_KEY);
      if (epoch) return epoch;
      if (Date.now() > deadline) {
        throw new Error('another instance is rebuilding the revocation index and has not finished');
      }
    }
  }

  async #rebuildLocked(): Promise<string> {
    const now = new Date();
    const since = new Date(now.getTime() - REVOCATION_HORIZON_SECONDS * 1000);
    const entries = entriesFromRecords(await this.#repository.recordsSince(since, now), now.getTime());
    for (let i = 0; i < entries.length; i += 100) {
      await Promise.all(
        entries
          .slice(i, i + 100)
          .map((entry) =>
            this.#state.indexPut(INDEX, entryMember(entry), JSON.stringify(entry), entry.until),
          ),
      );
    }
    const epoch = randomBase62(12);
    await this.#state.set(EPOCH_KEY, epoch, EPOCH_TTL_SECONDS);
    this.#logger.info(
      { entries: entries.length, state_store: this.#state.kind },
      'rebuilt the revocation index from the database',
    );
    try {
      const message: FeedMessage = { type: 'rebuilt', epoch };
      await this.#state.publish(FEED_CHANNEL, JSON.stringify(message));
    } catch {
      // Other instances find the new epoch on their next check.
    }
    return epoch;
  }

  #setEpoch(epoch: string): void {
    if (epoch === this.#epoch) return;
    const previous = this.#epoch;
    this.#epoch = epoch;
    if (previous !== null) for (const listener of this.#epochListeners) listener(epoch);
  }

  async #prune(): Promise<void> {
    try {
      await this.#state.indexPrune(INDEX, Math.floor(Date.now() / 1000) - 1);
      await this.#repository.pruneExpiredTokens(new Date());
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not prune expired revocations');
    }
  }
}

function parseStoredChange(value: string): ChangeEvent | null {
  try {
    const change = JSON.parse(value) as ChangeEvent;
    return typeof change === 'object' && change !== null && typeof change.type === 'string' ? change : null;
  } catch {
    return null;
  }
}

function parseStoredEntry(value: string): RevocationEntry | null {
  try {
    const entry = JSON.parse(value) as RevocationEntry;
    return typeof entry === 'object' && entry !== null && typeof entry.type === 'string' ? entry : null;
  } catch {
    return null;
  }
}
