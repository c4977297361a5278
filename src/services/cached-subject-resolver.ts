import { BoundedCache } from '../cache/bounded-cache.ts';
import { credentialStatus } from '../domain/status.ts';
import type { ChangeNotifier } from './change-notifier.ts';
import type { TokenSubject, TokenSubjectService } from './token-subject-service.ts';

/**
 * Token subjects (credential, account, organization, resolved permissions) kept in memory so a warm
 * credential's token needs no database round trip. Entries are dropped by change events from any
 * instance; while those events cannot be trusted (notifier unhealthy) every request reads the database.
 * Unknown client ids are never cached: a credential created a moment ago must work at once.
 */
export class CachedSubjectResolver {
  readonly #source: TokenSubjectService;
  readonly #notifier: ChangeNotifier;
  readonly #cache: BoundedCache<string, TokenSubject>;

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

  get stats(): { hits: number; misses: number; size: number } {
    return { hits: this.#cache.hits, misses: this.#cache.misses, size: this.#cache.size };
  }

  async findByClientId(clientId: string): Promise<TokenSubject | null> {
    const now = new Date();
    if (!this.#notifier.healthy) {
      this.#cache.clear();
      return this.#source.findByClientId(clientId, now);
    }
    const cached = this.#cache.get(clientId, now.getTime());
    if (cached) {
      // Expiry is a matter of time, not of events: check it on every use.
      const { revoked_at: revokedAt, expires_at: expiresAt } = cached.credential;
      if (credentialStatus({ revokedAt, expiresAt }, now) === 'active') return cached;
      this.#cache.delete(clientId);
      return null;
    }
    const subject = await this.#source.findByClientId(clientId, now);
    if (subject) this.#cache.set(clientId, subject, now.getTime());
    return subject;
  }
}
