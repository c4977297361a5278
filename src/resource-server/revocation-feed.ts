/**
 * A subscription to svcauth's `GET /revocations` (docs/revocation-feed.md): a snapshot, then one event
 * per revocation, each with a cursor. The subscription reconnects on its own, sending its cursor as
 * `Last-Event-ID` so nothing is missed; a new snapshot (the cursor was too old) replaces the state.
 * It also keeps the time the server last proved that what it sent is current (a snapshot, an event or
 * an `event: heartbeat`, each sent only after the server read its revocation state), which decides
 * whether the state still counts (see `isFresh`). An open connection proves nothing by itself: a server
 * that cannot read its state store may still hold the stream open, and says so with `event: unavailable`.
 */
import type { FetchFunction } from './options.ts';
import type { RevocationEntry, RevocationSnapshot, RevocationState } from './revocation-state.ts';
import { SseParser } from './sse.ts';

export interface RevocationFeedOptions {
  url: string;
  /** The `Authorization` header value (the resource server's Basic credentials). */
  authorization: string;
  fetch: FetchFunction;
  state: RevocationState;
  /** A connected stream silent for this long is presumed dead and reopened. */
  heartbeatTimeoutMs: number;
  /** Each event's entry, once applied to the state. */
  onEntry?: (entry: RevocationEntry) => void;
  /** A snapshot replaced a state that was already initialized: anything derived from it is void. */
  onResync?: () => void;
  onError?: (error: Error) => void;
  /** Reconnection delays: the first retry waits `min`, doubling up to `max`. Defaults 100 ms and 5 s. */
  reconnectDelayMs?: { min: number; max: number };
  now?: () => number;
}

/** Answers that no retry will change until an operator acts; retried slowly. */
const CONFIGURATION_STATUSES = new Set([401, 403, 404]);

export class FeedError extends Error {
  readonly status: number | null;
  constructor(message: string, status: number | null = null, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'FeedError';
    this.status = status;
  }
}

export class RevocationFeed {
  readonly #options: RevocationFeedOptions;
  readonly #now: () => number;
  readonly #delays: { min: number; max: number };
  #closed = false;
  #connected = false;
  /** When the server last proved the state current (snapshot, revocation or heartbeat event). */
  #confirmedAt = Number.NEGATIVE_INFINITY;
  #controller: AbortController | null = null;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  #snapshotWaiters = new Set<() => void>();
  #readyResolve!: () => void;
  #readyReject!: (error: Error) => void;
  #readySettled = false;
  readonly #ready: Promise<void>;
  #connections = 0;

  constructor(options: RevocationFeedOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#delays = options.reconnectDelayMs ?? { min: 100, max: 5_000 };
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    // Whoever asks for ready() sees the rejection; nobody asking is not an unhandled rejection.
    this.#ready.catch(() => {});
  }

  /** Resolves on the first snapshot; rejects if the server refuses the subscription outright. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** How many streams were opened: for tests and metrics. */
  get connections(): number {
    return this.#connections;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /**
   * Whether the state can be trusted: a snapshot was applied, and the server proved it current at most
   * `maxStalenessMs` ago. Keepalive comments and an open connection do not count.
   */
  isFresh(maxStalenessMs: number): boolean {
    if (!this.#options.state.initialized) return false;
    return this.#now() - this.#confirmedAt <= maxStalenessMs;
  }

  /** Waits up to `timeoutMs` for the first snapshot; true when the state is initialized. */
  async waitForSnapshot(timeoutMs: number): Promise<boolean> {
    if (this.#options.state.initialized) return true;
    if (timeoutMs <= 0 || this.#closed) return false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const waiters = this.#snapshotWaiters;
      function done() {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
    return this.#options.state.initialized;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#controller?.abort();
    // Aborting the fetch does not always end a read already waiting on the body (seen with Node 24's
    // fetch); cancelling the reader does, so close() never waits for the server to end the stream.
    void this.#reader?.cancel().catch(() => {});
    this.#wake?.();
    for (const waiter of [...this.#snapshotWaiters]) waiter();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      let opened = false;
      let slow = false;
      try {
        opened = await this.#connect();
      } catch (error) {
        if (this.#closed) break;
        const failure = toError(error);
        if (
          failure instanceof FeedError &&
          failure.status !== null &&
          CONFIGURATION_STATUSES.has(failure.status)
        ) {
          slow = true;
          this.#rejectReady(failure);
        }
        this.#options.onError?.(failure);
      } finally {
        this.#controller = null;
      }
      if (this.#closed) break;
      failures = opened ? 0 : failures + 1;
      const base = slow ? this.#delays.max : Math.min(this.#delays.max, this.#delays.min * 2 ** failures);
      await this.#sleep(base * (0.8 + Math.random() * 0.4));
    }
  }

  /** One stream, until it ends or fails. True if it was opened (a 200 event stream). */
  async #connect(): Promise<boolean> {
    const controller = new AbortController();
    this.#controller = controller;
    const headers: Record<string, string> = {
      accept: 'text/event-stream',
      authorization: this.#options.authorization,
      'cache-control': 'no-cache',
    };
    const cursor = this.#options.state.cursor;
    if (cursor !== null) headers['last-event-id'] = cursor;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const armHeartbeat = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        controller.abort(new FeedError(`no data for ${this.#options.heartbeatTimeoutMs} ms`));
      }, this.#options.heartbeatTimeoutMs);
    };
    try {
      armHeartbeat();
      let response: Response;
      try {
        response = await this.#options.fetch(this.#options.url, {
          headers,
          signal: controller.signal,
          redirect: 'error',
        });
      } catch (error) {
        throw new FeedError(
          `GET ${this.#options.url} failed: ${toError(controller.signal.reason ?? error).message}`,
          null,
          error,
        );
      }
      if (response.status !== 200 || !response.body) {
        await response.body?.cancel().catch(() => {});
        throw new FeedError(`GET ${this.#options.url} answered ${response.status}`, response.status);
      }
      const type = response.headers.get('content-type') ?? '';
      if (!type.toLowerCase().startsWith('text/event-stream')) {
        await response.body.cancel().catch(() => {});
        throw new FeedError(
          `GET ${this.#options.url} answered ${type || 'no content type'}, not an event stream`,
          200,
        );
      }
      this.#connections += 1;
      this.#connected = true;
      const parser = new SseParser();
      const decoder = new TextDecoder();
      const reader = response.body.getReader();
      this.#reader = reader;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          // Any data, comments included, shows the connection is alive (not that the state is current).
          armHeartbeat();
          for (const event of parser.push(decoder.decode(value, { stream: true }))) {
            this.#handle(event.event, event.data, event.lastEventId);
          }
        }
      } catch (error) {
        if (this.#closed) return true;
        throw new FeedError(
          `the revocation stream broke: ${toError(controller.signal.reason ?? error).message}`,
          null,
          error,
        );
      } finally {
        this.#reader = null;
        reader.releaseLock();
      }
      return true;
    } finally {
      clearTimeout(timer);
      if (!controller.signal.aborted) controller.abort();
      this.#connected = false;
    }
  }

  #handle(event: string, data: string, lastEventId: string): void {
    const { state } = this.#options;
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch (error) {
      this.#options.onError?.(new FeedError(`a "${event}" event carried invalid JSON`, null, error));
      return;
    }
    if (event === 'snapshot') {
      const snapshot = payload as RevocationSnapshot;
      if (typeof snapshot?.cursor !== 'string' || !Array.isArray(snapshot.entries)) {
        this.#options.onError?.(new FeedError('a snapshot lacked its cursor or entries'));
        return;
      }
      const resync = state.initialized;
      state.replace(snapshot, this.#now());
      this.#confirmedAt = this.#now();
      if (resync) this.#options.onResync?.();
      this.#readySettled = true;
      this.#readyResolve();
      for (const waiter of [...this.#snapshotWaiters]) waiter();
      return;
    }
    if (event === 'revocation') {
      const entry = state.apply(payload, lastEventId === '' ? null : lastEventId, this.#now());
      if (entry) this.#options.onEntry?.(entry);
      // Events follow the snapshot in order: with one, the state is as current as the server's.
      if (state.initialized) this.#confirmedAt = this.#now();
      return;
    }
    if (event === 'heartbeat') {
      // The server read its revocation state and sent everything before this: the state is current.
      if (state.initialized) this.#confirmedAt = this.#now();
      return;
    }
    if (event === 'unavailable') {
      const detail = (payload as { detail?: unknown } | null)?.detail;
      this.#options.onError?.(
        new FeedError(
          `the server cannot read its revocation state${typeof detail === 'string' ? ` (${detail})` : ''}; ` +
            'the state counts until maxStalenessMs after its last confirmation',
        ),
      );
    }
  }

  #rejectReady(error: Error): void {
    if (this.#readySettled) return;
    this.#readySettled = true;
    this.#readyReject(error);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
