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
 * Concurrent lookups of one client id share one read.
 */
export class CachedSubjectResolver {
  readonly #source: TokenSubjectService;
  readonly #notifier: ChangeNotifier;
  readonly #cache: BoundedCache<string, TokenSubject>;
  readonly #reads = new Map<string, Promise<TokenSubject | null>>();

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
      read = this.#read(clientId).finally(() => this.#reads.delete(clientId));
      this.#reads.set(clientId, read);
    }
    return read;
  }

  async #read(clientId: string): Promise<TokenSubject | null> {
    for (let reads = 1; ; reads++) {
      const fill = this.#cache.beginFill(clientId);
      let subject: TokenSubject | null;
      try {
        subject = await this.#source.findByClientId(clientId, new Date());
      } catch (error) {
        this.#cache.abandonFill(fill);
        throw error;
      }
      // Nothing found needs no check: a refusal never outlives a change.
      if (!subject) {
        this.#cache.abandonFill(fill);
        return null;
      }
      // Events are only trusted while the notifier is healthy: otherwise the subject serves this
      // request alone.
      if (this.#cache.completeFill(fill, subject, this.#notifier.healthy)) return subject;
      if (reads >= MAX_READS) {
        throw new SubjectLookupRacedError(`client ${clientId} kept changing while it was looked up`);
      }
    }
  }
}
