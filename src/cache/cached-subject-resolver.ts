import { BoundedCache } from './bounded-cache.ts';
import { credentialStatus } from '../domain/status.ts';
import type { ChangeNotifier } from '../state/change-notifier.ts';
import type { TokenSubject, TokenSubjectService } from '../services/token-subject-service.ts';

/**
 * How many times a lookup is read again because a change that may concern it came in meanwhile. Only
 * changes of the same credential, account or organization (or a resync) count, so a second retry is
 * already rare; after the last, the caller gets an error (503) rather than a subject that may predate
 * a change.
 */
const MAX_READS = 4;

/**
 * At most this many client ids in one statement: a restart storm's first requests share a few reads,
 * while each stays small.
 */
const MAX_BATCH = 100;

/** A lookup waiting for its batch; `reads` counts the batches that already read it (and raced). */
interface PendingLookup {
  readonly clientId: string;
  reads: number;
  resolve(subject: TokenSubject | null): void;
  reject(error: unknown): void;
}

export class SubjectLookupRacedError extends Error {
  override readonly name = 'SubjectLookupRacedError';
}

/**
 * Token subjects (credential, account, organization, resolved permissions) kept in memory so a warm
 * credential's token needs no database round trip. Entries are dropped by change events from any
 * instance; while those events cannot be trusted (notifier unhealthy) every request reads the database.
 * Unknown client ids are never cached: a credential created a moment ago must work at once.
 *
 * A lookup is answered only if no change that may concern it came in while it read the database (see
 * BoundedCache fills): otherwise it could return, and cache, a credential as it was before its revoke.
 * Concurrent lookups of one client id share one read, and the lookups that miss in one turn of the
 * event loop share one database statement (a restarted instance's burst of first requests would
 * otherwise cost a round trip each, and the database's CPU with it).
 */
export class CachedSubjectResolver {
  readonly #source: TokenSubjectService;
  readonly #notifier: ChangeNotifier;
  readonly #cache: BoundedCache<string, TokenSubject>;
  readonly #reads = new Map<string, Promise<TokenSubject | null>>();
  /** Lookups waiting for the next batch (see #enqueue). */
  #queued: PendingLookup[] = [];

  constructor(
    source: TokenSubjectService,
    notifier: ChangeNotifier,
    options: { maxEntries?: number; ttlMs?: number } = {},
  ) {
    this.#source = source;
    this.#notifier = notifier;
    // The lifetime bounds how long a change could go unseen if an event were ever lost despite the
    // heartbeat check; events normally drop entries long before.
    this.#cache = new BoundedCache({
      maxEntries: options.maxEntries ?? 50_000,
      ttlMs: options.ttlMs ?? 60_000,
    });
    notifier.onChange((event) => {
      switch (event.type) {
        case 'credential':
          this.#cache.delete(event.clientId);
          break;
        case 'account':
          this.#cache.deleteWhere((subject) => subject.account.id === event.accountId);
          break;
        case 'organization':
          this.#cache.deleteWhere((subject) => subject.organization.id === event.orgId);
          break;
      }
    });
    notifier.onResync(() => this.#cache.clear());
  }

  /** Drops every subject: what they were resolved under (e.g. the permission catalog) changed. */
  clear(): void {
    this.#cache.clear();
  }

  get stats(): { hits: number; misses: number; size: number } {
    return { hits: this.#cache.hits, misses: this.#cache.misses, size: this.#cache.size };
  }

  async findByClientId(clientId: string): Promise<TokenSubject | null> {
    const now = new Date();
    if (!this.#notifier.healthy) {
      // Once, not per request: each clear also makes every lookup in flight read again.
      if (this.#cache.size > 0) this.#cache.clear();
    } else {
      const cached = this.#cache.get(clientId, now.getTime());
      if (cached) {
        // Expiry is a matter of time, not of events: check it on every use.
        const { revoked_at: revokedAt, expires_at: expiresAt } = cached.credential;
        if (credentialStatus({ revokedAt, expiresAt }, now) === 'active') return cached;
        this.#cache.delete(clientId);
        return null;
      }
    }
    let read = this.#reads.get(clientId);
    if (!read) {
      read = new Promise<TokenSubject | null>((resolve, reject) => {
        this.#enqueue({ clientId, reads: 0, resolve, reject });
      }).finally(() => this.#reads.delete(clientId));
      this.#reads.set(clientId, read);
    }
    return read;
  }

  /** Queues a lookup for the next batch, which goes out once this turn of the event loop is done. */
  #enqueue(lookup: PendingLookup): void {
    this.#queued.push(lookup);
    if (this.#queued.length === 1) setImmediate(() => this.#dispatch());
  }

  #dispatch(): void {
    const queued = this.#queued;
    this.#queued = [];
    for (let i = 0; i < queued.length; i += MAX_BATCH) void this.#read(queued.slice(i, i + MAX_BATCH));
  }

  /**
   * Reads a batch of lookups in one statement. Each is answered only if no change that may concern it
   * came in while the batch read the database; the others go into a later batch.
   */
  async #read(batch: PendingLookup[]): Promise<void> {
    const fills = batch.map((lookup) => this.#cache.beginFill(lookup.clientId));
    let found: Map<string, TokenSubject>;
    try {
      found = await this.#source.findByClientIds(
        batch.map((lookup) => lookup.clientId),
        new Date(),
      );
    } catch (error) {
      for (const fill of fills) this.#cache.abandonFill(fill);
      for (const lookup of batch) lookup.reject(error);
      return;
    }
    // Events are only trusted while the notifier is healthy: otherwise each subject serves its
    // requests alone.
    const trusted = this.#notifier.healthy;
    batch.forEach((lookup, i) => {
      const fill = fills[i]!;
      const subject = found.get(lookup.clientId);
      // Nothing found needs no check: a refusal never outlives a change.
      if (!subject) {
        this.#cache.abandonFill(fill);
        lookup.resolve(null);
      } else if (this.#cache.completeFill(fill, subject, trusted)) {
        lookup.resolve(subject);
      } else if (++lookup.reads >= MAX_READS) {
        lookup.reject(
          new SubjectLookupRacedError(`client ${lookup.clientId} kept changing while it was looked up`),
        );
      } else {
        this.#enqueue(lookup);
      }
    });
  }
}
