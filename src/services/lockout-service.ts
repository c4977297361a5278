import { hash, randomBytes } from 'node:crypto';
import {
  countedClientId,
  isSecretShaped,
  limitOf,
  type LockoutPolicy,
  lockoutRefusal,
  type LockoutSource,
  type LockoutSubject,
  lockoutSubjects,
  reachesLimit,
} from '../domain/lockout.ts';
import type { Logger } from '../logging/logger.ts';
import type { AuditRepository } from '../persistence/repositories/audit-repository.ts';
import { MemoryStateStore } from '../state/memory-state-store.ts';
import type { StateStore, Unsubscribe } from '../state/state-store.ts';
import type { ChangeNotifier } from '../state/change-notifier.ts';

const CHANNEL = 'lockouts';
/** Current locks by subject, scored by when they end: what an instance loads when it starts or resyncs. */
const INDEX = 'lockouts';
/** The key of the keyed digest in subject names, shared by every instance through the state store. */
const DIGEST_KEY = 'lockout:digest-key';
const DIGEST_KEY_TTL_SECONDS = 30 * 86_400;
const MAX_LOCAL_LOCKS = 100_000;
const PRUNE_INTERVAL_MS = 60_000;
/** After the shared store failed, counting stays in this instance for this long before trying again. */
const FALLBACK_MS = 5_000;

/** Where the attempt was made: `platform` is an operator's at /platform/v1 (no organization's). */
export type LockoutEndpoint = 'token' | 'revoke' | 'introspect' | 'platform';

/** One authentication attempt about to be evaluated. */
export interface Attempt {
  /** The client id (or API key id) presented, existing or not. */
  clientId: string | null;
  source: LockoutSource | null;
  endpoint: LockoutEndpoint;
  requestId: string | null;
}

/** The credential behind a failed attempt's client id, when it exists: its organization's audit trail records the lockout. */
export interface AttemptCredential {
  orgId: string;
  accountId: string;
  credentialId: string;
}

/** An attempt counted before its secret is evaluated; tell it how that went. */
export interface ReservedAttempt {
  /** The secret was right: the attempt is taken back, so successes never lock anyone out. */
  succeeded(): void;
  /** The secret was wrong: it stays counted; what reached its limit is locked out. Never throws. */
  failed(credential: AttemptCredential | null): Promise<void>;
}

export type Reserved = { ok: true; attempt: ReservedAttempt } | { ok: false; retryAfterSeconds: number };

/**
 * Brute-force protection for client authentication (/token, /revoke) and API keys checked at
 * /introspect; see domain/lockout.ts for what is counted.
 *
 * An attempt is reserved atomically in the state store before its secret is evaluated (a Lua script in
 * Redis), and refused once its pair or source has used up the window's limit: however many requests
 * arrive at once, at most the limit are evaluated. A success takes its reservation back; a warm
 * success, whose secret is recognized from memory, never gets this far.
 *
 * A lock is stored in the state store and broadcast, so each instance keeps the current locks in
 * memory: the check before authentication costs no state-store call.
 *
 * While the state store cannot be reached, counting and locking go on in this instance's memory
 * (fail-open, never silently off): with N instances an attacker gets at most N times the limits until
 * the store returns. Key names hold keyed digests only (the key is shared through the state store).
 */
export class LockoutService {
  readonly #shared: StateStore;
  readonly #local = new MemoryStateStore({ prefix: '' });
  readonly #policy: LockoutPolicy;
  readonly #audit: AuditRepository;
  readonly #logger: Logger;
  /** Lock subject key -> when the lock ends (epoch ms). */
  readonly #locks = new Map<string, number>();
  #digestKey = randomBytes(32).toString('base64url');
  /** Keys the in-flight map below; never leaves this process. */
  readonly #flightKey = randomBytes(32).toString('base64url');
  /** Identical attempts being evaluated now, by credential and a keyed digest of the presented secret. */
  readonly #inFlight = new Map<string, Promise<unknown>>();
  #sharedDownUntil = 0;
  #unsubscribe: Unsubscribe | undefined;
  #timer: NodeJS.Timeout | undefined;

  readonly #onLockout: (kind: 'pair' | 'source') => void;
  readonly #ownerOf: (clientId: string) => Promise<AttemptCredential | null>;

  constructor(deps: {
    state: StateStore;
    policy: LockoutPolicy;
    audit: AuditRepository;
    logger: Logger;
    /** Told of every lockout this instance decides (metrics). */
    onLockout?: (kind: 'pair' | 'source') => void;
    /**
     * The credential a client id names even when it cannot authenticate (revoked, expired, archived
     * account): asked only when a lockout is decided, so its organization hears of it too.
     */
    ownerOf?: (clientId: string) => Promise<AttemptCredential | null>;
  }) {
    this.#ownerOf = deps.ownerOf ?? (async () => null);
    this.#onLockout = deps.onLockout ?? (() => {});
    this.#shared = deps.state;
    this.#policy = deps.policy;
    this.#audit = deps.audit;
    this.#logger = deps.logger;
  }

  async start(notifier: ChangeNotifier): Promise<void> {
    await this.#loadDigestKey();
    this.#unsubscribe = await this.#shared.subscribe(CHANNEL, (message) => this.#receive(message));
    // Locks announced while this instance could not hear them are in the index.
    notifier.onResync(() => void this.#load());
    this.#timer = setInterval(() => void this.#prune(), PRUNE_INTERVAL_MS);
    this.#timer.unref();
    await this.#load();
  }

  /** Before authentication: whether the pair or the source is locked out, and for how long. Memory only. */
  check(clientId: string | null, source: LockoutSource | null): { retryAfterSeconds: number } | null {
    if (this.#locks.size === 0) return null;
    const refusal = lockoutRefusal(this.#locks, this.#subjects(clientId, source), Date.now());
    return refusal ? { retryAfterSeconds: refusal.retryAfterSeconds } : null;
  }

  /**
   * Counts an attempt before its secret is evaluated; refused when its pair or source has no attempt
   * left in the window (nothing is then counted). Never throws.
   */
  async reserve(attempt: Attempt): Promise<Reserved> {
    const subjects = this.#subjects(attempt.clientId, attempt.source);
    let store = this.#store();
    let results;
    try {
      results = await this.#reserveAll(store, subjects);
    } catch (error) {
      if (store === this.#local) throw error;
      this.#sharedFailed(error, attempt.requestId);
      store = this.#local;
      results = await this.#reserveAll(store, subjects);
    }
    const refused = results.filter((result) => !result.reserved);
    if (refused.length > 0) {
      // All or nothing: what was reserved for this attempt is given back.
      for (const [index, result] of results.entries()) {
        if (result.reserved) this.#release(store, subjects[index]!);
      }
      const locked = this.check(attempt.clientId, attempt.source)?.retryAfterSeconds ?? 0;
      return {
        ok: false,
        retryAfterSeconds: Math.max(locked, ...refused.map((result) => result.ttlSeconds)),
      };
    }
    let settled = false;
    return {
      ok: true,
      attempt: {
        succeeded: () => {
          if (settled) return;
          settled = true;
          for (const subject of subjects) this.#release(store, subject);
        },
        failed: async (credential) => {
          if (settled) return;
          settled = true;
          for (const [index, subject] of subjects.entries()) {
            const failures = results[index]!.count;
            if (!reachesLimit(subject.kind, failures, this.#policy)) continue;
            await this.#lockOut(store, subject, { attempt, credential, failures });
          }
        },
      },
    };
  }

  /**
   * Identical attempts in flight at once (the same client id with the same secret: a burst of first
   * requests, or the kit introspecting one API key many times) are evaluated, and counted, once; the
   * others share the outcome. Without this each would take a slot of the limit, and a burst of right
   * secrets from one source would be refused.
   */
  once<T>(clientId: string, secret: string, evaluate: () => Promise<T>): Promise<T> {
    const key = `${clientId}\0${hash('sha256', this.#flightKey + secret, 'base64url')}`;
    const running = this.#inFlight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const started = evaluate().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, started);
    return started;
  }

  /**
   * A failure found without a reservation (e.g. a private_key_jwt assertion oidc-provider refused): it
   * is counted all the same. Never throws.
   */
  async recordFailure(attempt: Attempt, credential: AttemptCredential | null): Promise<void> {
    try {
      const reserved = await this.reserve(attempt);
      if (reserved.ok) await reserved.attempt.failed(credential);
    } catch (error) {
      this.#logger.warn(
        { err: error, request_id: attempt.requestId },
        'could not count a failed authentication',
      );
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#unsubscribe?.().catch(() => {});
    await this.#local.close();
  }

  #subjects(clientId: string | null, source: LockoutSource | null): LockoutSubject[] {
    return lockoutSubjects(clientId, source, (value) => this.#digest(value));
  }

  /**
   * SHA-256 keyed by a prefix, as SecretVerifier does and for the same reason: the one-shot hash costs
   * far less than createHmac, and check() runs on every /token request while any lock holds. The key
   * has a fixed length, so no two (key, value) inputs collide by shifting bytes between them.
   */
  #digest(value: string): string {
    return hash('sha256', `${this.#digestKey}\0${value}`, 'base64url').slice(0, 22);
  }

  #store(): StateStore {
    return Date.now() < this.#sharedDownUntil ? this.#local : this.#shared;
  }

  #sharedFailed(error: unknown, requestId: string | null): void {
    if (Date.now() >= this.#sharedDownUntil) {
      this.#logger.warn(
        { err: error, request_id: requestId },
        'state store unavailable: counting failed authentications in this instance only',
      );
    }
    this.#sharedDownUntil = Date.now() + FALLBACK_MS;
  }

  async #reserveAll(store: StateStore, subjects: LockoutSubject[]) {
    return Promise.all(
      subjects.map((subject) =>
        store.reserve(
          `lockout:attempts:${subject.key}`,
          limitOf(subject.kind, this.#policy),
          this.#policy.windowSeconds,
        ),
      ),
    );
  }

  #release(store: StateStore, subject: LockoutSubject): void {
    // Off the response path; a lost release only leaves one attempt counted until the window ends.
    store.release(`lockout:attempts:${subject.key}`).catch(() => {});
  }

  async #lockOut(
    store: StateStore,
    subject: LockoutSubject,
    failure: { attempt: Attempt; credential: AttemptCredential | null; failures: number },
  ): Promise<void> {
    const until = Date.now() + this.#policy.lockSeconds * 1000;
    const lockKey = `lockout:locked:${subject.key}`;
    let decided: boolean;
    try {
      decided = await store.setIfAbsent(lockKey, String(until), this.#policy.lockSeconds);
    } catch (error) {
      if (store === this.#local) return;
      this.#sharedFailed(error, failure.attempt.requestId);
      return this.#lockOut(this.#local, subject, failure);
    }
    if (!decided) {
      // Locked already (perhaps by another instance whose broadcast is on its way).
      const stored = Number(await store.get(lockKey).catch(() => null));
      if (Number.isFinite(stored)) this.#lock(subject.key, stored);
      return;
    }
    this.#lock(subject.key, until);
    this.#onLockout(subject.kind);
    if (store === this.#shared) {
      try {
        await this.#shared.indexPut(INDEX, subject.key, String(until), until / 1000);
        await this.#shared.publish(CHANNEL, JSON.stringify({ key: subject.key, until }));
      } catch (error) {
        this.#logger.warn(
          { err: error, request_id: failure.attempt.requestId },
          'could not share a lockout with the other instances',
        );
      }
    }
    await this.#announce(subject, failure);
  }

  /** A log line for operators and, when the client id is a credential's, its organization's audit event. */
  async #announce(
    subject: LockoutSubject,
    failure: { attempt: Attempt; credential: AttemptCredential | null; failures: number },
  ): Promise<void> {
    const { attempt, failures } = failure;
    const credential = failure.credential ?? (await this.#owner(attempt));
    const scope = subject.kind === 'pair' ? 'client_and_source' : 'source';
    const source =
      attempt.source?.kind === 'resource_server'
        ? { resource_server: attempt.source.value }
        : { ip: attempt.source?.value ?? null };
    // Never the client id itself: it may be anything, a pasted secret included.
    const client =
      credential !== null
        ? { credential_id: credential.credentialId }
        : attempt.clientId !== null
          ? { client_id_digest: this.#digest(`log\0${countedClientId(attempt.clientId)}`).slice(0, 12) }
          : {};
    this.#logger.warn(
      {
        request_id: attempt.requestId,
        endpoint: attempt.endpoint,
        scope,
        ...source,
        ...client,
        failures,
        lock_seconds: this.#policy.lockSeconds,
      },
      subject.kind === 'pair'
        ? 'client locked out from one source after repeated failed authentications'
        : 'source locked out after repeated failed authentications',
    );
    // An unknown client id belongs to no organization: the log line is all there is.
    if (!credential) return;
    try {
      await this.#audit.record({
        orgId: credential.orgId,
        action: 'token.lockout',
        outcome: 'failure',
        actorAccountId: credential.accountId,
        actorCredentialId: credential.credentialId,
        targetType: 'credential',
        targetId: credential.credentialId,
        diff: {
          scope,
          endpoint: attempt.endpoint,
          ...source,
          failures,
          window_seconds: this.#policy.windowSeconds,
          lock_seconds: this.#policy.lockSeconds,
        },
        sourceIp: attempt.source?.kind === 'ip' ? attempt.source.value : null,
        requestId: attempt.requestId,
      });
    } catch (error) {
      this.#logger.error({ err: error, request_id: attempt.requestId }, 'could not audit a lockout');
    }
  }

  async #owner(attempt: Attempt): Promise<AttemptCredential | null> {
    if (attempt.clientId === null || isSecretShaped(attempt.clientId)) return null;
    // An operator name is no tenant's client id: the log line is all there is.
    if (attempt.endpoint === 'platform') return null;
    try {
      return await this.#ownerOf(attempt.clientId);
    } catch (error) {
      this.#logger.warn(
        { err: error, request_id: attempt.requestId },
        'could not find whose client id was locked out',
      );
      return null;
    }
  }

  #receive(message: string): void {
    try {
      const { key, until } = JSON.parse(message) as { key?: unknown; until?: unknown };
      if (typeof key === 'string' && typeof until === 'number') this.#lock(key, until);
    } catch {
      // Not ours.
    }
  }

  #lock(key: string, until: number): void {
    if (until <= Date.now()) return;
    this.#locks.set(key, Math.max(this.#locks.get(key) ?? 0, until));
    if (this.#locks.size > MAX_LOCAL_LOCKS) this.#sweep();
  }

  /** Every instance must digest alike: the first to start stores a random key, the others read it. */
  async #loadDigestKey(): Promise<void> {
    try {
      await this.#shared.setIfAbsent(
        DIGEST_KEY,
        randomBytes(32).toString('base64url'),
        DIGEST_KEY_TTL_SECONDS,
      );
      const stored = await this.#shared.get(DIGEST_KEY);
      if (stored) this.#digestKey = stored;
    } catch (error) {
      // Until the store answers, this instance keys its own (local) counters with its own key.
      this.#logger.warn({ err: error }, 'could not read the lockout digest key from the state store');
    }
  }

  async #load(): Promise<void> {
    try {
      for (const { member, value } of await this.#shared.indexRange(INDEX, Date.now() / 1000)) {
        this.#lock(member, Number(value));
      }
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not load current lockouts from the state store');
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, until] of this.#locks) if (until <= now) this.#locks.delete(key);
    // Still over the bound: the locks ending soonest go first.
    if (this.#locks.size > MAX_LOCAL_LOCKS) {
      const sorted = [...this.#locks].sort((a, b) => a[1] - b[1]);
      for (const [key] of sorted.slice(0, this.#locks.size - MAX_LOCAL_LOCKS)) this.#locks.delete(key);
    }
  }

  async #prune(): Promise<void> {
    this.#sweep();
    // The digest key expires after a month (or with an emptied Redis): follow the one now shared.
    await this.#loadDigestKey();
    try {
      await this.#shared.indexPrune(INDEX, Date.now() / 1000);
    } catch {
      // Pruning is housekeeping; the next round tries again.
    }
  }
}
