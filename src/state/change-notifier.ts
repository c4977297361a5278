import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logging/logger.ts';
import type { StateStore, Unsubscribe } from './state-store.ts';

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
      /**
       * Its secret was regenerated: tokens obtained with a secret older than `oldestVersion` must be
       * refused from `effectiveAtMs` on (the grace period's end, or at once).
       */
      secretRetired?: { oldestVersion: number; effectiveAtMs: number };
    }
  | {
      type: 'account';
      orgId: string;
      accountId: string;
      /** Set when roles, locations or the matrix changed: tokens with a lower version are stale. */
      permissionsVersion?: number;
    }
  /** A resource server's or operator's credential was made or revoked through the platform API. */
  | { type: 'deployment_credentials' }
  /** The product permission catalog changed: every instance reloads it (PermissionCatalog). */
  | { type: 'catalog' }
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
/** A publisher not heard from for this long is forgotten (its instance stopped). */
const FORGET_PUBLISHER_MS = 60_000;

interface Message {
  from?: string;
  /** The publisher's message number: 1, 2, 3... A number skipped is a message lost on the way. */
  seq?: number;
  heartbeat?: number;
  event?: ChangeEvent;
}

/**
 * Carries change events between instances over the state store's pub/sub. It also knows whether it
 * can be trusted, since pub/sub drops what a subscriber misses, without a trace:
 * - each instance hears its own heartbeat every second; when heartbeats stop (Redis down, subscriber
 *   disconnected) `healthy` turns false and caches stop answering;
 * - the state store reports every loss of the subscription (a Redis blip of a few hundred
 *   milliseconds, too short for the heartbeat to notice): `healthy` turns false at once, listeners
 *   hear `onResync`, and it stays false until a heartbeat sent after the loss has come back (so the
 *   resubscription is confirmed);
 * - every message carries its publisher's sequence number, so a message lost in between (a publish
 *   that failed, a drop anywhere on the way) is noticed with the publisher's next one.
 * Whenever something may have been missed, listeners hear `onResync` and start from empty.
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
  /** Set when the subscription was lost: the sequence number of this instance's last message then. */
  #interruptedAt: number | undefined;
  #sent = 0;
  readonly #heard = new Map<string, { seq: number; at: number }>();
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: Unsubscribe | undefined;

  constructor(state: StateStore, logger: Logger) {
    this.#state = state;
    this.#logger = logger;
  }

  async start(): Promise<void> {
    this.#unsubscribe = await this.#state.subscribe(
      CHANNEL,
      (message) => this.#receive(message),
      () => this.#interrupted(),
    );
    this.#timer = setInterval(() => void this.#beat(), HEARTBEAT_MS);
    this.#timer.unref();
    await this.#beat();
  }

  get healthy(): boolean {
    const healthy = this.#interruptedAt === undefined && Date.now() - this.#lastHeartbeat < HEALTHY_WITHIN_MS;
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
   * If the publish fails, the number it carried is never seen by anyone: every instance resyncs when
   * this one's next message arrives.
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
    const attempted = Date.now();
    try {
      await this.#send({ event });
    } catch (error) {
      this.#logger.error({ err: error, change: event.type }, 'could not publish a change to other instances');
      // Other instances may not hear of this change (until the outbox relays it), and if the state store
      // froze rather than dropped their connections, their only sign is missing heartbeats, which they
      // act on within HEALTHY_WITHIN_MS of the last one they heard (before this attempt). Returning
      // later means that once the caller acknowledges the change, no instance still trusts a cache
      // that predates it: it has heard the change, or it bypasses its caches.
      await sleep(Math.max(0, attempted + HEALTHY_WITHIN_MS - Date.now()));
    }
    await Promise.all(recorded);
  }

  /**
   * Announces again a change another instance committed (or this one, earlier), found in the revocation
   * outbox: its instance may have been cut off from the state store, so its own publish reached no
   * one. This instance's caches drop it at once and every other instance hears it; a duplicate only
   * drops entries again. Local-publish listeners do not hear it (the outbox is where it came from).
   * Throws when the state store does not take it, so the caller can keep the row and try again.
   */
  async republish(event: ChangeEvent): Promise<void> {
    this.#deliver(event);
    await this.#send({ event });
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#unsubscribe?.();
  }

  async #beat(): Promise<void> {
    const now = Date.now();
    for (const [from, { at }] of this.#heard) if (now - at > FORGET_PUBLISHER_MS) this.#heard.delete(from);
    try {
      await this.#send({ heartbeat: now });
    } catch {
      // The missing heartbeat is the signal; `healthy` reports it.
    }
  }

  /** Numbers are taken in call order, and a store's publishes keep their order (one connection). */
  #send(message: Omit<Message, 'from' | 'seq'>): Promise<void> {
    this.#sent += 1;
    return this.#state.publish(
      CHANNEL,
      JSON.stringify({ from: this.#instance, seq: this.#sent, ...message }),
    );
  }

  #interrupted(): void {
    const first = this.#interruptedAt === undefined;
    this.#interruptedAt = this.#sent;
    // Whatever a publisher sends next may follow messages lost now: its next number is the new baseline.
    this.#heard.clear();
    // Once per loss (a reconnect attempt that fails reports again): caches stay bypassed until the
    // subscription is confirmed, and start over again then.
    if (!first) return;
    this.#logger.warn('change subscription lost: caches start over and are bypassed until it is back');
    this.#resync();
  }

  #receive(raw: string): void {
    let message: Message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    const now = Date.now();
    if (typeof message.from === 'string' && typeof message.seq === 'number') {
      const previous = this.#heard.get(message.from);
      this.#heard.set(message.from, { seq: message.seq, at: now });
      if (previous && message.seq !== previous.seq + 1) {
        this.#logger.warn('change notifications were lost on the way: caches start over');
        this.#resync();
      }
    }
    if (message.heartbeat !== undefined) {
      if (message.from !== this.#instance) return;
      // A heartbeat sent before the subscription was lost proves nothing about the new one.
      if (this.#interruptedAt !== undefined) {
        if (message.seq === undefined || message.seq <= this.#interruptedAt) return;
        this.#interruptedAt = undefined;
        this.#lastHeartbeat = 0;
      }
      // A gap between heartbeats means the subscription may have dropped messages (pub/sub keeps
      // nothing for a disconnected subscriber), even if it is back now: caches start over.
      const resumed = now - this.#lastHeartbeat > GAP_MS;
      this.#lastHeartbeat = now;
      this.#wasHealthy = true;
      if (resumed) this.#resync();
      return;
    }
    if (message.event && message.from !== this.#instance) this.#deliver(message.event);
  }

  #resync(): void {
    for (const listener of this.#resyncListeners) listener();
  }

  #deliver(event: ChangeEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
