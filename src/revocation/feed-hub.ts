import type { ServerResponse } from 'node:http';
import type { Logger } from '../logging/logger.ts';
import {
  compareLogIds,
  type LogEntry,
  type LogRead,
  type StateStore,
  type Unsubscribe,
} from '../state/state-store.ts';
import { type FeedCursor, formatCursor, parseCursor } from './entries.ts';
import { FEED_CHANNEL, type FeedMessage, type LedgerSnapshot, type RevocationLedger } from './ledger.ts';

/**
 * This often every stream gets `event: heartbeat`, sent only after this instance read the log for it:
 * the proof that the subscriber is current, which the kit's `maxStalenessMs` counts from (default 10 s,
 * so several heartbeats may be lost before it refuses). It also keeps proxies from closing a quiet
 * stream. When the read fails, streams get `event: unavailable` and are ended instead.
 */
export const HEARTBEAT_INTERVAL_MS = 2_000;
const READ_BATCH = 500;
/** A subscriber that does not read what it is sent is cut off; it reconnects with its cursor. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/** The JSON snapshot of `GET /revocations` (and the data of an SSE `snapshot` event). */
export interface FeedSnapshot {
  cursor: string;
  generated_at: number;
  entries: unknown[];
}

/** Raised when the feed cannot answer now (state store unreachable, shutting down): 503. */
export class FeedUnavailableError extends Error {
  override readonly name = 'FeedUnavailableError';
}

interface Subscriber {
  readonly res: ServerResponse;
  epoch: string;
  /** Log position of the last event sent (or of the snapshot). */
  position: string;
  /** False while its backlog is being sent: the pump leaves it alone until then. */
  live: boolean;
  /** Whether the credentials the stream was opened with still hold (see endRevokedStreams). */
  stillAuthorized: (() => Promise<boolean>) | null;
}

/**
 * The Server-Sent Events side of `GET /revocations` on one instance. Every instance subscribes to the
 * ledger's pub/sub channel; a nudge makes it read the log after its subscribers' positions and send
 * what is new, so a revocation recorded on any instance reaches subscribers of every instance, in log
 * order, and a lost nudge only delays delivery until the next heartbeat tick, which reads the log too.
 */
export class RevocationFeedHub {
  readonly #ledger: RevocationLedger;
  readonly #state: StateStore;
  readonly #logger: Logger;
  readonly #subscribers = new Set<Subscriber>();
  #unsubscribe: Unsubscribe | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pumping: Promise<boolean> | null = null;
  #pumpAgain = false;
  #ticking = false;
  #closed = false;

  constructor(deps: { ledger: RevocationLedger; state: StateStore; logger: Logger }) {
    this.#ledger = deps.ledger;
    this.#state = deps.state;
    this.#logger = deps.logger;
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  async start(): Promise<void> {
    this.#unsubscribe = await this.#state.subscribe(FEED_CHANNEL, (message) => this.#receive(message));
    this.#ledger.onEpochChange(() => void this.#pump());
    this.#timer = setInterval(() => void this.#tick(), HEARTBEAT_INTERVAL_MS);
    this.#timer.unref();
  }

  /** `Accept: application/json`: what is revoked now, with the cursor to resume from. */
  async snapshot(): Promise<FeedSnapshot> {
    this.#refuseIfBehind();
    return toFeedSnapshot(await this.#readSnapshot());
  }

  /**
   * Opens a stream on `res`. With a cursor of the current epoch that the log still covers: the events
   * after it. Otherwise (no cursor, an unknown or too old one): a snapshot first. Throws
   * FeedUnavailableError before anything is written when the feed cannot start.
   */
  async open(
    res: ServerResponse,
    cursorValue: string | null,
    options: { stillAuthorized?: () => Promise<boolean> } = {},
  ): Promise<void> {
    if (this.#closed) throw new FeedUnavailableError('the server is shutting down');
    this.#refuseIfBehind();
    const cursor = parseCursor(cursorValue);
    let epoch: string;
    try {
      epoch = await this.#ledger.epoch();
    } catch (error) {
      throw new FeedUnavailableError('the revocation state cannot be read now', { cause: error });
    }
    let snapshot: LedgerSnapshot | null = null;
    let backlog: LogEntry[] = [];
    let resumable = cursor !== null && cursor.epoch === epoch;
    try {
      // A position the log never reached (a made-up or mangled cursor) is no place to resume from:
      // events appended before the log gets there would be skipped.
      if (resumable && compareLogIds(cursor!.position, await this.#ledger.tip()) > 0) resumable = false;
      if (resumable) {
        const read = await this.#readAfter(cursor!.position);
        backlog = read.entries;
        resumable = !read.truncated;
      }
      if (!resumable) snapshot = await this.#ledger.snapshot();
    } catch (error) {
      throw new FeedUnavailableError('the revocation state cannot be read now', { cause: error });
    }
    if (this.#closed) throw new FeedUnavailableError('the server is shutting down');

    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      // The connection ends with the stream: a shutdown then needs no wait for idle keep-alive sockets.
      Connection: 'close',
      // nginx and similar proxies would otherwise hold events back in a buffer.
      'X-Accel-Buffering': 'no',
    });
    const subscriber: Subscriber = {
      res,
      epoch: snapshot?.epoch ?? epoch,
      position: snapshot?.position ?? cursor!.position,
      live: false,
      stillAuthorized: options.stillAuthorized ?? null,
    };
    this.#subscribers.add(subscriber);
    res.on('close', () => this.#subscribers.delete(subscriber));
    if (snapshot) this.#sendSnapshot(subscriber, snapshot);
    for (const entry of backlog) this.#sendEntry(subscriber, entry);
    // What was read is sent: the subscriber is current as of now.
    this.#sendHeartbeat(subscriber);
    subscriber.live = true;
    // Anything appended while the backlog was read is picked up here.
    void this.#pump();
  }

  /**
   * Ends the streams whose resource server's credentials no longer hold (revoked through the platform
   * API): a revoked resource server stops hearing the feed at once, not at its next reconnection. A
   * check that fails (the database cannot answer) leaves the stream open: the next change retries.
   */
  async endRevokedStreams(): Promise<number> {
    let ended = 0;
    await Promise.all(
      [...this.#subscribers].map(async (subscriber) => {
        if (!subscriber.stillAuthorized) return;
        const authorized = await subscriber.stillAuthorized().catch(() => true);
        if (authorized) return;
        this.#subscribers.delete(subscriber);
        subscriber.res.end();
        ended += 1;
      }),
    );
    return ended;
  }

  /** Ends every stream (subscribers reconnect elsewhere) and stops listening. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const subscriber of this.#subscribers) subscriber.res.end();
    this.#subscribers.clear();
    await this.#unsubscribe?.().catch(() => {});
  }

  /** Every log entry after position, unless some were trimmed away (truncated: start from a snapshot). */
  async #readAfter(position: string): Promise<LogRead> {
    const entries: LogEntry[] = [];
    let after = position;
    for (;;) {
      const read = await this.#ledger.readLog(after, READ_BATCH);
      if (read.truncated) return { entries: [], truncated: true };
      entries.push(...read.entries);
      if (read.entries.length < READ_BATCH) return { entries, truncated: false };
      after = read.entries[read.entries.length - 1]!.id;
    }
  }

  #receive(message: string): void {
    let parsed: FeedMessage;
    try {
      parsed = JSON.parse(message) as FeedMessage;
    } catch {
      return;
    }
    if (parsed.type === 'rebuilt') this.#ledger.noteEpoch(parsed.epoch);
    void this.#pump();
  }

  /**
   * Heartbeat: read the log for every stream; when that worked, each stream is current and is told so
   * (`event: heartbeat`). When it failed (the state store cannot be read), or committed revocations
   * have waited in the outbox beyond its lag limit (the log is not all the database holds), this
   * instance can vouch for nothing: each stream gets `event: unavailable` and is ended, so its subscriber tries another
   * instance and, failing that, lets its own staleness bound take effect. A read still running after a
   * whole interval counts as failed.
   */
  async #tick(): Promise<void> {
    if (this.#ticking || this.#closed) return;
    this.#ticking = true;
    try {
      let timer: NodeJS.Timeout | undefined;
      const read = await Promise.race([
        this.#pump(),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), HEARTBEAT_INTERVAL_MS);
        }),
      ]).finally(() => clearTimeout(timer));
      if (this.#closed) return;
      // Committed revocations stuck in the outbox: what the log holds is not everything.
      const behind = read && this.#ledger.behind;
      const current = read && !behind;
      const detail = behind
        ? 'revocations committed to the database have not reached the feed yet'
        : 'the revocation state cannot be read now';
      for (const subscriber of this.#subscribers) {
        if (!subscriber.live) continue;
        if (current) {
          this.#sendHeartbeat(subscriber);
        } else {
          this.#write(subscriber, `event: unavailable\ndata: ${JSON.stringify({ detail })}\n\n`);
          this.#subscribers.delete(subscriber);
          subscriber.res.end();
        }
      }
    } finally {
      this.#ticking = false;
    }
  }

  /**
   * Sends every live subscriber what the log holds after its position; one pass at a time (a call
   * during a pass gets the pass after it). Resolves true when every read succeeded.
   */
  #pump(): Promise<boolean> {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return this.#pumping;
    }
    this.#pumping = (async () => {
      try {
        do {
          this.#pumpAgain = false;
          await this.#pumpOnce();
        } while (this.#pumpAgain && !this.#closed);
        return true;
      } catch (error) {
        // The next nudge or heartbeat tick tries again.
        this.#logger.warn({ err: error }, 'could not relay revocations to feed subscribers');
        return false;
      } finally {
        this.#pumping = null;
      }
    })();
    return this.#pumping;
  }

  async #pumpOnce(): Promise<void> {
    const live = [...this.#subscribers].filter((s) => s.live);
    if (live.length === 0) return;
    const epoch = this.#ledger.knownEpoch;
    const stale = live.filter((s) => s.epoch !== epoch);
    if (stale.length > 0) {
      // The state store lost its state and was rebuilt: positions mean nothing any more.
      const snapshot = await this.#ledger.snapshot();
      for (const subscriber of stale) this.#sendSnapshot(subscriber, snapshot);
    }
    const byPosition = new Map<string, Subscriber[]>();
    for (const subscriber of live) {
      byPosition.set(subscriber.position, [...(byPosition.get(subscriber.position) ?? []), subscriber]);
    }
    for (const [position, group] of byPosition) {
      const read = await this.#readAfter(position);
      if (read.truncated) {
        const snapshot = await this.#ledger.snapshot();
        for (const subscriber of group) this.#sendSnapshot(subscriber, snapshot);
        continue;
      }
      for (const entry of read.entries) {
        for (const subscriber of group) {
          if (compareLogIds(entry.id, subscriber.position) > 0) this.#sendEntry(subscriber, entry);
        }
      }
    }
  }

  async #readSnapshot(): Promise<LedgerSnapshot> {
    try {
      return await this.#ledger.snapshot();
    } catch (error) {
      throw new FeedUnavailableError('the revocation state cannot be read now', { cause: error });
    }
  }

  #sendSnapshot(subscriber: Subscriber, snapshot: LedgerSnapshot): void {
    subscriber.epoch = snapshot.epoch;
    subscriber.position = snapshot.position;
    const data = toFeedSnapshot(snapshot);
    this.#write(subscriber, `id: ${data.cursor}\nevent: snapshot\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** A snapshot now would vouch for a state that lacks committed revocations: refuse until relayed. */
  #refuseIfBehind(): void {
    if (this.#ledger.behind) {
      throw new FeedUnavailableError('revocations committed to the database have not reached the feed yet');
    }
  }

  #sendHeartbeat(subscriber: Subscriber): void {
    this.#write(subscriber, `event: heartbeat\ndata: ${JSON.stringify({ checked_at: Date.now() })}\n\n`);
  }

  #sendEntry(subscriber: Subscriber, entry: LogEntry): void {
    subscriber.position = entry.id;
    const cursor = formatCursor({ epoch: subscriber.epoch, position: entry.id });
    // Stored values are single-line JSON, so one data line carries each.
    this.#write(subscriber, `id: ${cursor}\nevent: revocation\ndata: ${entry.value}\n\n`);
  }

  #write(subscriber: Subscriber, chunk: string): void {
    const { res } = subscriber;
    if (res.writableEnded || res.destroyed) {
      this.#subscribers.delete(subscriber);
      return;
    }
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      this.#subscribers.delete(subscriber);
      res.destroy();
      return;
    }
    res.write(chunk);
  }
}

function toFeedSnapshot(snapshot: LedgerSnapshot): FeedSnapshot {
  const cursor: FeedCursor = { epoch: snapshot.epoch, position: snapshot.position };
  return { cursor: formatCursor(cursor), generated_at: snapshot.generatedAt, entries: snapshot.entries };
}
