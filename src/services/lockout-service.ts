import { type LockoutPolicy, lockoutRefusal, lockoutSubjects, reachesLimit } from '../domain/lockout.ts';
import type { Logger } from '../logging/logger.ts';
import type { AuditRepository } from '../persistence/repositories/audit-repository.ts';
import type { StateStore, Unsubscribe } from '../state/state-store.ts';
import type { ChangeNotifier } from './change-notifier.ts';

const CHANNEL = 'lockouts';
/** Current locks by subject, scored by when they end: what an instance loads when it starts or resyncs. */
const INDEX = 'lockouts';
const MAX_LOCAL_LOCKS = 100_000;
const PRUNE_INTERVAL_MS = 60_000;

export interface FailedAuthentication {
  /** The client id the request presented (existing or not), if any. */
  clientId: string | null;
  ip: string | null;
  /** The credential behind the client id, when it exists: its organization's audit trail records the lockout. */
  credential: { orgId: string; accountId: string; credentialId: string } | null;
  requestId: string | null;
}

/**
 * Brute-force protection for client authentication (/token, /revoke). Failures are counted in the
 * state store, shared by every instance. A lock is stored there too and broadcast, so each instance
 * keeps the current locks in memory: the check before authentication costs no state-store call, and a
 * successful request never touches the state store.
 */
export class LockoutService {
  readonly #state: StateStore;
  readonly #policy: LockoutPolicy;
  readonly #audit: AuditRepository;
  readonly #logger: Logger;
  /** Lock subject key -> when the lock ends (epoch ms). */
  readonly #locks = new Map<string, number>();
  #unsubscribe: Unsubscribe | undefined;
  #timer: NodeJS.Timeout | undefined;

  readonly #onLockout: (kind: 'client' | 'ip') => void;

  constructor(deps: {
    state: StateStore;
    policy: LockoutPolicy;
    audit: AuditRepository;
    logger: Logger;
    /** Told of every lockout this instance decides (metrics). */
    onLockout?: (kind: 'client' | 'ip') => void;
  }) {
    this.#onLockout = deps.onLockout ?? (() => {});
    this.#state = deps.state;
    this.#policy = deps.policy;
    this.#audit = deps.audit;
    this.#logger = deps.logger;
  }

  async start(notifier: ChangeNotifier): Promise<void> {
    this.#unsubscribe = await this.#state.subscribe(CHANNEL, (message) => this.#receive(message));
    // Locks announced while this instance could not hear them are in the index.
    notifier.onResync(() => void this.#load());
    this.#timer = setInterval(() => void this.#prune(), PRUNE_INTERVAL_MS);
    this.#timer.unref();
    await this.#load();
  }

  /** Before authentication: whether the client id or the IP is locked out, and for how long. Memory only. */
  check(clientId: string | null, ip: string | null): { retryAfterSeconds: number } | null {
    if (this.#locks.size === 0) return null;
    const refusal = lockoutRefusal(this.#locks, lockoutSubjects(clientId, ip), Date.now());
    return refusal ? { retryAfterSeconds: refusal.retryAfterSeconds } : null;
  }

  /** Counts a failed client authentication; locks out what reached its limit. Never throws. */
  async recordFailure(failure: FailedAuthentication): Promise<void> {
    for (const subject of lockoutSubjects(failure.clientId, failure.ip)) {
      try {
        const failures = await this.#state.increment(
          `lockout:failures:${subject.key}`,
          this.#policy.windowSeconds,
        );
        if (!reachesLimit(subject.kind, failures, this.#policy)) continue;
        const until = Date.now() + this.#policy.lockSeconds * 1000;
        const lockKey = `lockout:locked:${subject.key}`;
        if (!(await this.#state.setIfAbsent(lockKey, String(until), this.#policy.lockSeconds))) {
          // Locked already (perhaps by another instance whose broadcast is on its way).
          const stored = Number(await this.#state.get(lockKey));
          if (Number.isFinite(stored)) this.#lock(subject.key, stored);
          continue;
        }
        this.#lock(subject.key, until);
        this.#onLockout(subject.kind);
        await this.#state.indexPut(INDEX, subject.key, String(until), until / 1000);
        await this.#state.publish(CHANNEL, JSON.stringify({ key: subject.key, until }));
        await this.#announce(subject.kind, failure, failures);
      } catch (error) {
        this.#logger.warn(
          { err: error, request_id: failure.requestId },
          'could not count a failed authentication',
        );
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#unsubscribe?.().catch(() => {});
  }

  async #announce(kind: 'client' | 'ip', failure: FailedAuthentication, failures: number): Promise<void> {
    const details = {
      request_id: failure.requestId,
      ip: failure.ip,
      failures,
      lock_seconds: this.#policy.lockSeconds,
    };
    if (kind === 'ip') {
      this.#logger.warn(details, 'source IP locked out after repeated failed client authentications');
      return;
    }
    this.#logger.warn(
      { ...details, client_id: failure.clientId },
      'client id locked out after repeated failed authentications',
    );
    if (!failure.credential) return;
    await this.#audit.record({
      orgId: failure.credential.orgId,
      action: 'token.lockout',
      outcome: 'failure',
      actorAccountId: failure.credential.accountId,
      actorCredentialId: failure.credential.credentialId,
      targetType: 'credential',
      targetId: failure.credential.credentialId,
      diff: {
        failures,
        window_seconds: this.#policy.windowSeconds,
        lock_seconds: this.#policy.lockSeconds,
      },
      sourceIp: failure.ip,
      requestId: failure.requestId,
    });
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

  async #load(): Promise<void> {
    try {
      for (const { member, value } of await this.#state.indexRange(INDEX, Date.now() / 1000)) {
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
    try {
      await this.#state.indexPrune(INDEX, Date.now() / 1000);
    } catch {
      // Pruning is housekeeping; the next round tries again.
    }
  }
}
