import { randomUUID } from 'node:crypto';
import type { Logger } from '../logging/logger.ts';
import type { StateStore, Unsubscribe } from '../state/state-store.ts';

/**
 * Something changed that caches of clients, accounts, permissions or verified secrets must drop.
 * Published after the database transaction commits; every instance (this one included) receives it.
 */
export type ChangeEvent =
  | {
      type: 'credential';
      orgId: string;
      accountId: string;
      credentialId: string;
      clientId: string;
      /** The credential stopped working (revoked, rotated out): tokens it obtained must be refused. */
      revoked?: boolean;
    }
  | {
      type: 'account';
      orgId: string;
      accountId: string;
      /** Set when roles, locations or the matrix changed: tokens with a lower version are stale. */
      permissionsVersion?: number;
    }
  /** Roles, locations or settings changed: anything of the organization may be affected. */
  | {
      type: 'organization';
      orgId: string;
      /** Set when the API module was switched: while false, the organization's tokens are refused. */
      apiEnabled?: boolean;
    };

const CHANNEL = 'changes';
const HEARTBEAT_MS = 1000;
/** Without a heartbeat for this long, events may be lost: caches must not be trusted. */
const HEALTHY_WITHIN_MS = 3000;
const GAP_MS = HEARTBEAT_MS * 2.5;

/**
 * Carries change events between instances over the state store's pub/sub. It also knows whether it
 * can be trusted: each instance hears its own heartbeat every second; when heartbeats stop (Redis
 * down, subscriber disconnected) `healthy` turns false and caches stop answering, so a revocation can
 * never be missed; when they resume, listeners hear `onResync` and start from empty.
 */
export class ChangeNotifier {
  readonly #state: StateStore;
  readonly #logger: Logger;
  readonly #instance = randomUUID();
  #listeners = new Set<(event: ChangeEvent) => void>();
  #resyncListeners = new Set<() => void>();
  #localPublishListeners = new Set<(event: ChangeEvent) => Promise<void> | void>();
  #lastHeartbeat = 0;
  #wasHealthy = false;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: Unsubscribe | undefined;

  constructor(state: StateStore, logger: Logger) {
    this.#state = state;
    this.#logger = logger;
  }

  async start(): Promise<void> {
    this.#unsubscribe = await this.#state.subscribe(CHANNEL, (message) => this.#receive(message));
    this.#timer = setInterval(() => void this.#beat(), HEARTBEAT_MS);
    this.#timer.unref();
    await this.#beat();
  }

  get healthy(): boolean {
    const healthy = Date.now() - this.#lastHeartbeat < HEALTHY_WITHIN_MS;
    if (!healthy && this.#wasHealthy) {
      this.#wasHealthy = false;
      this.#logger.warn('change notifications interrupted: caches are bypassed until they resume');
    }
    return healthy;
  }

  onChange(listener: (event: ChangeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onResync(listener: () => void): () => void {
    this.#resyncListeners.add(listener);
    return () => this.#resyncListeners.delete(listener);
  }

  /**
   * Hears the events this instance publishes (not those of other instances): where a change is
   * recorded once for all, e.g. in the revocation feed. `publish` waits for these listeners; their
   * failures are logged, never thrown (the change itself has committed).
   */
  onLocalPublish(listener: (event: ChangeEvent) => Promise<void> | void): () => void {
    this.#localPublishListeners.add(listener);
    return () => this.#localPublishListeners.delete(listener);
  }

  /**
   * Publishes to every instance. Local listeners hear it at once too, so this instance's next request
   * already sees the change even if the state store is unreachable (the caller's write committed).
   */
  async publish(event: ChangeEvent): Promise<void> {
    this.#deliver(event);
    const recorded = [...this.#localPublishListeners].map(async (listener) => {
      try {
        await listener(event);
      } catch (error) {
        this.#logger.error({ err: error, change: event.type }, 'a change listener failed');
      }
    });
    try {
      await this.#state.publish(CHANNEL, JSON.stringify({ from: this.#instance, event }));
    } catch (error) {
      this.#logger.error({ err: error, change: event.type }, 'could not publish a change to other instances');
    }
    await Promise.all(recorded);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#unsubscribe?.();
  }

  async #beat(): Promise<void> {
    try {
      await this.#state.publish(CHANNEL, JSON.stringify({ from: this.#instance, heartbeat: Date.now() }));
    } catch {
      // The missing heartbeat is the signal; `healthy` reports it.
    }
  }

  #receive(message: string): void {
    let parsed: { from?: string; heartbeat?: number; event?: ChangeEvent };
    try {
      parsed = JSON.parse(message);
    } catch {
      return;
    }
    if (parsed.heartbeat !== undefined) {
      if (parsed.from !== this.#instance) return;
      // A gap between heartbeats means the subscription may have dropped messages (pub/sub keeps
      // nothing for a disconnected subscriber), even if it is back now: caches start over.
      const now = Date.now();
      const resumed = now - this.#lastHeartbeat > GAP_MS;
      this.#lastHeartbeat = now;
      this.#wasHealthy = true;
      if (resumed) for (const listener of this.#resyncListeners) listener();
      return;
    }
    if (parsed.event && parsed.from !== this.#instance) this.#deliver(parsed.event);
  }

  #deliver(event: ChangeEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
