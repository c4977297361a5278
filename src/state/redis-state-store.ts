import { Cluster, type ClusterOptions, Redis, type RedisOptions, ReplyError, type Result } from 'ioredis';
import type { IndexEntry, LogRead, Reservation, StateStore, Unsubscribe } from './state-store.ts';
import {
  assertLogArguments,
  assertScore,
  assertStructureName,
  assertTtlSeconds,
  compareLogIds,
  DEFAULT_STATE_STORE_PREFIX,
  StateStoreUnavailableError,
} from './state-store.ts';

export interface RedisStateStoreOptions {
  /** The Redis server; with clusterNodes, only its user name, password and TLS (rediss:) are used. */
  url: string;
  /**
   * Redis Cluster: a few of its nodes, from which the client discovers the rest. Every key, script
   * and channel of this store works on a cluster (see #logKeys); the key layout is the same either way.
   */
  clusterNodes?: Array<{ host: string; port: number }>;
  prefix?: string;
  /**
   * Merged over the fail-fast defaults below (on a cluster, over those of each node's connection).
   * Don't set keyPrefix: keys are prefixed by `prefix`.
   */
  redisOptions?: RedisOptions;
  /**
   * Receives connection errors (repeatedly while Redis is down) and errors thrown by subscription
   * handlers. Without it they are dropped: failures still surface as rejected commands and pings.
   */
  onError?: (error: unknown) => void;
}

/**
 * How long a command may wait for a connection, and for its reply, before it is rejected with
 * StateStoreUnavailableError.
 */
const UNAVAILABLE_AFTER_MS = 1000;

/**
 * How long a command may wait, in all, for a connection that has never been ready and whose socket is
 * open with the handshake under way (status 'connect': AUTH, the ready check, a cluster's slot map).
 * On a loaded machine that can outlast UNAVAILABLE_AFTER_MS: an instance must not refuse to start
 * because Redis answered its first handshake slowly, only because it does not answer at all (a
 * refused or unreachable address still fails after UNAVAILABLE_AFTER_MS).
 */
const FIRST_HANDSHAKE_AFTER_MS = 10_000;

/** The part of FAIL_FAST_OPTIONS that applies to every connection, a cluster node's too. */
const CONNECTION_FAIL_FAST_OPTIONS = {
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  commandTimeout: UNAVAILABLE_AFTER_MS,
  connectTimeout: UNAVAILABLE_AFTER_MS,
} satisfies RedisOptions;

const reconnectDelayMs = (attempt: number): number => Math.min(attempt * 100, 1000);

/**
 * Fail-fast configuration. While Redis is down every command rejects within about
 * UNAVAILABLE_AFTER_MS, and the client keeps reconnecting by itself:
 * - enableOfflineQueue: false. A queued command would run whenever Redis came back, long after its
 *   caller had given up (e.g. consuming a jti for a request that was already answered 503). Instead,
 *   commands issued while disconnected wait at most UNAVAILABLE_AFTER_MS for the connection (#ready),
 *   which also covers start-up, before the first connection is established.
 * - maxRetriesPerRequest: 0. Commands in flight when the connection drops are rejected at once
 *   rather than resent after a reconnect, for the same reason.
 * - commandTimeout: bounds commands sent on a socket that went silent (a partition TCP hasn't noticed).
 * - connectTimeout + retryStrategy: retry forever, at most a second apart, so the store recovers
 *   about a second after Redis returns.
 */
const FAIL_FAST_OPTIONS: RedisOptions = {
  ...CONNECTION_FAIL_FAST_OPTIONS,
  enableOfflineQueue: false,
  retryStrategy: reconnectDelayMs,
};

/**
 * The same fail-fast behaviour on a Redis Cluster, where it takes other switches:
 * - Each node's connection gets the per-connection settings above (ioredis itself makes those
 *   connections lazy, with an offline queue and without reconnects: a lost node is found again
 *   through the slot map).
 * - enableOfflineQueue stays true for the cluster: with false, ioredis rejects a command sent to a
 *   node whose connection is still being opened, which every node's first commands are. Commands
 *   are instead only sent while the cluster is ready (#command), so none waits in the queue for
 *   a reconnect.
 * - retryDelayOnFailover: 0. ioredis would otherwise resend a command whose node connection closed
 *   while it was in flight, possibly after it ran (a single-use marker would then report its own
 *   write as a replay): the cluster equivalent of maxRetriesPerRequest: 0.
 * - retryDelayOnClusterDown: 0. While the cluster cannot serve a slot, commands fail at once
 *   (CLUSTERDOWN is mapped to StateStoreUnavailableError) instead of being retried for seconds.
 *   MOVED, ASK and TRYAGAIN are still followed: those commands did not run.
 * - clusterRetryStrategy: after losing every node, rediscover the cluster at most a second apart,
 *   forever; slotsRefreshTimeout bounds each attempt.
 */
const CLUSTER_FAIL_FAST_OPTIONS: ClusterOptions = {
  enableOfflineQueue: true,
  retryDelayOnFailover: 0,
  retryDelayOnClusterDown: 0,
  clusterRetryStrategy: reconnectDelayMs,
  slotsRefreshTimeout: UNAVAILABLE_AFTER_MS,
  redisOptions: CONNECTION_FAIL_FAST_OPTIONS,
};

/**
 * The subscriber connection must not time out or drop the SUBSCRIBE commands ioredis itself
 * sends to resubscribe after a reconnect: nobody awaits those, so a rejection would be unhandled
 * (and the channel silently lost). Our own subscribe/unsubscribe calls are bounded by withTimeout.
 */
const SUBSCRIBER_OVERRIDES: Partial<RedisOptions> = {
  commandTimeout: undefined,
  maxRetriesPerRequest: null,
  autoResendUnfulfilledCommands: true,
  autoResubscribe: true,
};

/**
 * Atomic so the window starts at the first increment: a crash between INCR and EXPIRE can't leave a
 * counter without expiry, and later increments never extend the window. Checking TTL (rather than
 * count == 1) also repairs a counter that somehow lost its expiry. Lua rather than EXPIRE NX keeps
 * Redis < 7 supported.
 */
/** ARGV[1] is 1 when the key must be absent, else ARGV[2] is the value it must hold. */
const REPLACE_IF_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
return 1
`;

const INCREMENT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) == -1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return count
`;

/**
 * A log is a stream trimmed exactly to its length; the id of the newest entry trimmed away is kept
 * beside it, so a reader whose position is older learns that it missed entries. One script, so a crash
 * can't trim without recording it.
 */
const APPEND_LOG_SCRIPT = `
local max = tonumber(ARGV[2])
local length = redis.call('XLEN', KEYS[1])
if length >= max then
  local old = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', length - max + 1)
  if #old > 0 then redis.call('SET', KEYS[2], old[#old][1]) end
end
return redis.call('XADD', KEYS[1], 'MAXLEN', max, '*', 'v', ARGV[1])
`;

const READ_LOG_SCRIPT = `
local trimmed = redis.call('GET', KEYS[2])
local entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
return {trimmed, entries}
`;

/**
 * reserve(): increments unless the counter reached the limit, starting the window on the first
 * increment as INCREMENT_SCRIPT does. One script, so concurrent callers never pass the limit together.
 */
const RESERVE_SCRIPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if count >= tonumber(ARGV[1]) then
  return {0, count, redis.call('TTL', KEYS[1])}
end
count = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) == -1 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return {1, count, redis.call('TTL', KEYS[1])}
`;

/** release(): one back, never below zero, and never creating a key. */
const RELEASE_SCRIPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if count > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
`;

/** A scored index is a sorted set of members plus a hash of their values, changed together. */
const INDEX_PUT_SCRIPT = `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
`;

const INDEX_RANGE_SCRIPT = `
local members = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'WITHSCORES')
local out = {}
for i = 1, #members, 2 do
  out[#out + 1] = members[i]
  out[#out + 1] = members[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], members[i]) or ''
end
return out
`;

const INDEX_PRUNE_SCRIPT = `
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for i = 1, #members, 500 do
  redis.call('HDEL', KEYS[2], unpack(members, i, math.min(i + 499, #members)))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return #members
`;

/**
 * The scripts, registered on each client with defineCommand: ioredis sends them by EVALSHA (the body
 * once per connection, not with every call) and falls back to EVAL when Redis lost its script cache
 * (a restart, a failover).
 */
const SCRIPTS = {
  svcauthReplaceIf: { numberOfKeys: 1, lua: REPLACE_IF_SCRIPT },
  svcauthIncrement: { numberOfKeys: 1, lua: INCREMENT_SCRIPT },
  svcauthReserve: { numberOfKeys: 1, lua: RESERVE_SCRIPT },
  svcauthRelease: { numberOfKeys: 1, lua: RELEASE_SCRIPT },
  svcauthAppendLog: { numberOfKeys: 2, lua: APPEND_LOG_SCRIPT },
  svcauthReadLog: { numberOfKeys: 2, lua: READ_LOG_SCRIPT },
  svcauthIndexPut: { numberOfKeys: 2, lua: INDEX_PUT_SCRIPT },
  svcauthIndexRange: { numberOfKeys: 2, lua: INDEX_RANGE_SCRIPT },
  svcauthIndexPrune: { numberOfKeys: 2, lua: INDEX_PRUNE_SCRIPT },
} as const;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    svcauthReplaceIf(
      key: string,
      mustBeAbsent: string,
      expected: string,
      value: string,
      ttlSeconds: string,
    ): Result<number, Context>;
    svcauthIncrement(key: string, windowSeconds: string): Result<number, Context>;
    svcauthReserve(
      key: string,
      limit: string,
      windowSeconds: string,
    ): Result<[number, number, number], Context>;
    svcauthRelease(key: string): Result<unknown, Context>;
    svcauthAppendLog(log: string, trimmed: string, value: string, maxLength: string): Result<string, Context>;
    svcauthReadLog(
      log: string,
      trimmed: string,
      afterId: string,
      limit: string,
    ): Result<[string | null, Array<[string, string[]]>], Context>;
    svcauthIndexPut(
      index: string,
      values: string,
      member: string,
      score: string,
      value: string,
    ): Result<unknown, Context>;
    svcauthIndexRange(index: string, values: string, minScore: string): Result<string[], Context>;
    svcauthIndexPrune(index: string, values: string, maxScore: string): Result<number, Context>;
  }
}

interface Subscription {
  readonly onMessage: (message: string) => void;
  readonly onInterrupted?: () => void;
}

interface ChannelSubscriptions {
  readonly subscriptions: Set<Subscription>;
  /** Settles when Redis has confirmed the SUBSCRIBE for this channel. */
  readonly subscribed: Promise<void>;
}

/** A single Redis (possibly found through Sentinel) or a Redis Cluster: both take the same commands. */
type Connection = Redis | Cluster;

/**
 * StateStore shared by all server instances through Redis. One connection serves commands; a second
 * one, created on the first subscribe(), carries every channel subscription (Redis connections in
 * subscriber mode can't run other commands). On a Redis Cluster, commands go through a Cluster
 * client and subscriptions through a connection to one of its nodes (#clusterSubscriber).
 */
export class RedisStateStore implements StateStore {
  readonly kind = 'redis';
  readonly #prefix: string;
  readonly #onError: (error: unknown) => void;
  readonly #redis: Connection;
  /** Always a single connection: on a cluster, to one node (see #clusterSubscriber). */
  #subscriber: Redis | undefined;
  readonly #clusterNodes: ReadonlyArray<{ host: string; port: number }>;
  readonly #channels = new Map<string, ChannelSubscriptions>();
  readonly #readyWaits = new WeakMap<Connection, Promise<void>>();
  /** Connections that have been ready at least once: only their first handshake gets more patience. */
  readonly #connectedOnce = new WeakSet<Connection>();
  #lastConnectionError: unknown;
  #closing: Promise<void> | undefined;

  constructor(options: RedisStateStoreOptions) {
    this.#prefix = options.prefix ?? DEFAULT_STATE_STORE_PREFIX;
    this.#onError = options.onError ?? (() => {});
    this.#clusterNodes = options.clusterNodes ?? [];
    // The URL (and its password) is handed to ioredis and never kept or logged here.
    this.#redis = options.clusterNodes
      ? new Cluster(options.clusterNodes, clusterOptions(options.url, options.redisOptions))
      : new Redis(options.url, { ...FAIL_FAST_OPTIONS, ...options.redisOptions });
    for (const [name, script] of Object.entries(SCRIPTS)) this.#redis.defineCommand(name, script);
    this.#watch(this.#redis);
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    assertTtlSeconds(ttlSeconds);
    const reply = await this.#command((redis) => redis.set(this.#key(key), value, 'EX', ttlSeconds, 'NX'));
    return reply === 'OK';
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    assertTtlSeconds(ttlSeconds);
    await this.#command((redis) => redis.set(this.#key(key), value, 'EX', ttlSeconds));
  }

  async get(key: string): Promise<string | null> {
    return this.#command((redis) => redis.get(this.#key(key)));
  }

  async getMany(keys: string[]): Promise<(string | null)[]> {
    // MGET without keys is a syntax error in Redis.
    if (keys.length === 0) return [];
    const names = keys.map((key) => this.#key(key));
    return this.#command((redis) =>
      // On a cluster MGET's keys must share a hash slot, which arbitrary keys don't. GETs issued
      // together still travel pipelined, one batch per node, instead of one round trip each.
      redis instanceof Cluster ? Promise.all(names.map((name) => redis.get(name))) : redis.mget(names),
    );
  }

  async delete(key: string): Promise<void> {
    await this.#command((redis) => redis.del(this.#key(key)));
  }

  async increment(key: string, windowSeconds: number): Promise<number> {
    assertTtlSeconds(windowSeconds);
    const count = await this.#command((redis) =>
      redis.svcauthIncrement(this.#key(key), String(windowSeconds)),
    );
    return Number(count);
  }

  async reserve(key: string, limit: number, windowSeconds: number): Promise<Reservation> {
    assertTtlSeconds(windowSeconds);
    const [reserved, count, ttl] = await this.#command((redis) =>
      redis.svcauthReserve(this.#key(key), String(limit), String(windowSeconds)),
    );
    return { reserved: reserved === 1, count: Number(count), ttlSeconds: Math.max(1, Number(ttl)) };
  }

  async replaceIf(key: string, expected: string | null, value: string, ttlSeconds: number): Promise<boolean> {
    assertTtlSeconds(ttlSeconds);
    const reply = await this.#command((redis) =>
      redis.svcauthReplaceIf(
        this.#key(key),
        expected === null ? '1' : '0',
        expected ?? '',
        value,
        String(ttlSeconds),
      ),
    );
    return reply === 1;
  }

  async release(key: string): Promise<void> {
    await this.#command((redis) => redis.svcauthRelease(this.#key(key)));
  }

  async ttl(key: string): Promise<number | null> {
    const seconds = await this.#command((redis) => redis.ttl(this.#key(key)));
    if (seconds === -2) return null;
    // -1: the key exists without expiry, which this API never creates; report it truthfully.
    if (seconds === -1) return Number.POSITIVE_INFINITY;
    return seconds;
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.#command((redis) =>
      (redis instanceof Cluster ? publishingNode(redis) : redis).publish(this.#key(channel), message),
    );
  }

  async subscribe(
    channel: string,
    onMessage: (message: string) => void,
    onInterrupted?: () => void,
  ): Promise<Unsubscribe> {
    this.#assertOpen();
    const name = this.#key(channel);
    const subscriber = this.#subscriberConnection();
    let channelSubscriptions = this.#channels.get(name);
    if (!channelSubscriptions) {
      channelSubscriptions = { subscriptions: new Set(), subscribed: this.#sendSubscribe(subscriber, name) };
      this.#channels.set(name, channelSubscriptions);
    }
    const subscription: Subscription = { onMessage, ...(onInterrupted ? { onInterrupted } : {}) };
    const { subscriptions, subscribed } = channelSubscriptions;
    subscriptions.add(subscription);
    const entry = channelSubscriptions;
    const removeSubscription = (): boolean => {
      subscriptions.delete(subscription);
      if (subscriptions.size > 0 || this.#channels.get(name) !== entry) return false;
      this.#channels.delete(name);
      return true;
    };

    try {
      await subscribed;
    } catch (error) {
      // The SUBSCRIBE may still succeed later; with no handlers left its messages are simply ignored.
      removeSubscription();
      throw error;
    }

    let active = true;
    return async () => {
      if (!active) return;
      active = false;
      // Delivery stops as soon as the handler is removed. UNSUBSCRIBE is sent synchronously after the
      // channel leaves #channels, so a later SUBSCRIBE for it is always ordered after it on the wire.
      if (!removeSubscription() || this.#closing) return;
      try {
        await withTimeout(subscriber.unsubscribe(name), UNAVAILABLE_AFTER_MS);
      } catch (error) {
        // Harmless: messages for a channel without handlers are dropped on arrival.
        this.#onError(error);
      }
    };
  }

  async appendLog(name: string, value: string, maxLength: number): Promise<string> {
    assertStructureName(name);
    assertLogArguments({ maxLength });
    const [log, trimmed] = this.#logKeys(name);
    const id = await this.#command((redis) => redis.svcauthAppendLog(log, trimmed, value, String(maxLength)));
    return String(id);
  }

  async readLog(name: string, afterId: string, limit: number): Promise<LogRead> {
    assertStructureName(name);
    assertLogArguments({ afterId, limit });
    const [log, trimmedKey] = this.#logKeys(name);
    const [trimmed, entries] = await this.#command((redis) =>
      redis.svcauthReadLog(log, trimmedKey, afterId, String(limit)),
    );
    return {
      entries: entries.map(([id, fields]) => ({ id, value: fields[1] ?? '' })),
      truncated: trimmed !== null && compareLogIds(afterId, trimmed) < 0,
    };
  }

  async lastLogId(name: string): Promise<string> {
    assertStructureName(name);
    const [log] = this.#logKeys(name);
    const newest = await this.#command((redis) => redis.xrevrange(log, '+', '-', 'COUNT', 1));
    return newest[0]?.[0] ?? '0-0';
  }

  async indexPut(name: string, member: string, value: string, score: number): Promise<void> {
    assertStructureName(name);
    assertScore(score);
    const [index, values] = this.#indexKeys(name);
    await this.#command((redis) => redis.svcauthIndexPut(index, values, member, String(score), value));
  }

  async indexRange(name: string, minScore: number): Promise<IndexEntry[]> {
    assertStructureName(name);
    assertScore(minScore);
    const [index, values] = this.#indexKeys(name);
    const flat = await this.#command((redis) => redis.svcauthIndexRange(index, values, String(minScore)));
    const entries: IndexEntry[] = [];
    for (let i = 0; i < flat.length; i += 3) {
      entries.push({ member: flat[i]!, score: Number(flat[i + 1]), value: flat[i + 2]! });
    }
    return entries;
  }

  async indexPrune(name: string, maxScore: number): Promise<number> {
    assertStructureName(name);
    assertScore(maxScore);
    const [index, values] = this.#indexKeys(name);
    const removed = await this.#command((redis) => redis.svcauthIndexPrune(index, values, String(maxScore)));
    return Number(removed);
  }

  async ping(): Promise<void> {
    if (!(this.#redis instanceof Cluster)) {
      await this.#command((redis) => redis.ping());
      return;
    }
    // Any node answers PING, even when the cluster has lost a slot range (a master down without a
    // replica to take over) and a share of the keys fails with CLUSTERDOWN: ask for the cluster's
    // own verdict instead.
    const info = await this.#command((redis) => redis.cluster('INFO'));
    const state = /^cluster_state:(\w+)/m.exec(info)?.[1] ?? 'unknown';
    if (state !== 'ok') {
      throw new StateStoreUnavailableError(`Redis Cluster cannot serve every key (cluster_state:${state})`);
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#interrupted();
    this.#channels.clear();
    const subscriber = this.#subscriber;
    subscriber?.disconnect();
    try {
      // QUIT lets commands already sent finish; when Redis is unreachable it rejects at once.
      if (this.#redis.status !== 'ready') throw new Error('not connected');
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }

  #key(key: string): string {
    return this.#prefix + key;
  }

  /**
   * The keys of a structure spanning two Redis keys share a hash tag, the name in braces, so Redis
   * Cluster keeps them in one slot, as the scripts that change both at once require. The tag is never
   * empty (assertStructureName), and the prefix can't contain braces (REDIS_KEY_PREFIX), so it
   * can't take the tag's place. Single-key commands need no tag: their keys spread over the cluster.
   */
  #logKeys(name: string): [string, string] {
    return [`${this.#prefix}{${name}}:log`, `${this.#prefix}{${name}}:log-trimmed`];
  }

  #indexKeys(name: string): [string, string] {
    return [`${this.#prefix}{${name}}:index`, `${this.#prefix}{${name}}:index-values`];
  }

  async #command<T>(run: (redis: Connection) => Promise<T>): Promise<T> {
    await this.#ready(this.#redis);
    // Checked again in the same tick as the command is sent: a cluster client queues commands while
    // it is not ready (see CLUSTER_FAIL_FAST_OPTIONS), and one queued now could run long after its
    // caller gave up.
    if (this.#redis.status !== 'ready') {
      throw new StateStoreUnavailableError(`Redis is unavailable (connection ${this.#redis.status})`, {
        cause: this.#lastConnectionError,
      });
    }
    try {
      return await run(this.#redis);
    } catch (error) {
      throw this.#toStoreError(error);
    }
  }

  /** Resolves once connection can take commands, waiting at most UNAVAILABLE_AFTER_MS for a (re)connect. */
  async #ready(connection: Connection): Promise<void> {
    this.#assertOpen();
    if (connection.status === 'ready') return;
    if (connection.status !== 'end') {
      // Only with a caller-supplied lazyConnect: nothing else would ever start the connection.
      if (connection.status === 'wait') connection.connect().catch(() => {});
      let readyWait = this.#readyWaits.get(connection);
      if (!readyWait) {
        // One listener shared by all waiting commands, however many pile up during an outage.
        readyWait = new Promise<void>((resolve) => {
          connection.once('ready', () => {
            this.#readyWaits.delete(connection);
            resolve();
          });
        });
        this.#readyWaits.set(connection, readyWait);
      }
      let becameReady = await fulfilsWithin(readyWait, UNAVAILABLE_AFTER_MS);
      if (!becameReady && connection.status === 'connect' && !this.#connectedOnce.has(connection)) {
        becameReady = await fulfilsWithin(readyWait, FIRST_HANDSHAKE_AFTER_MS - UNAVAILABLE_AFTER_MS);
      }
      this.#assertOpen();
      if (becameReady) return;
    }
    throw new StateStoreUnavailableError(`Redis is unavailable (connection ${connection.status})`, {
      cause: this.#lastConnectionError,
    });
  }

  #subscriberConnection(): Redis {
    if (!this.#subscriber) {
      const redis = this.#redis;
      const subscriber =
        redis instanceof Cluster ? this.#clusterSubscriber(redis) : redis.duplicate(SUBSCRIBER_OVERRIDES);
      subscriber.on('message', (channel: string, message: string) => this.#dispatch(channel, message));
      // Pub/sub keeps nothing for a subscriber that is away, however briefly: once the connection is
      // gone, every channel may miss messages until ioredis has reconnected and resubscribed.
      subscriber.on('close', () => this.#interrupted());
      this.#watch(subscriber);
      this.#subscriber = subscriber;
    }
    return this.#subscriber;
  }

  /**
   * The subscriber of a cluster store: one connection to any node, since a PUBLISH on a cluster
   * reaches every node. Each reconnect moves on to the next node the cluster client knows (or the
   * next seed node), so losing a node for good costs one reconnect, and ioredis resubscribes as it
   * does for a single Redis.
   *
   * Not ioredis's own cluster pub/sub (a subscribing Cluster client): when every node is down it
   * hops between them without pause, using a whole CPU, and when they return it can lose the
   * channels it was resubscribing to.
   */
  #clusterSubscriber(cluster: Cluster): Redis {
    const candidates = (): Array<{ host: string; port: number }> => {
      const known = cluster
        .nodes('all')
        .flatMap(({ options: { host, port } }) => (host && port ? [{ host, port }] : []));
      const seen = new Set<string>();
      return [...known, ...this.#clusterNodes].filter(({ host, port }) => {
        const address = `${host}:${port}`;
        if (seen.has(address)) return false;
        seen.add(address);
        return true;
      });
    };
    // Instances start on different nodes, so no one node carries every subscriber.
    let turn = Math.floor(Math.random() * candidates().length);
    const pick = () => {
      const nodes = candidates();
      return nodes[turn++ % nodes.length]!;
    };
    const subscriber: Redis = new Redis({
      ...FAIL_FAST_OPTIONS,
      ...cluster.options.redisOptions,
      ...SUBSCRIBER_OVERRIDES,
      ...pick(),
      retryStrategy: (attempt) => {
        // ioredis reconnects to the address in its options, read afresh on every attempt.
        Object.assign(subscriber.options, pick());
        return reconnectDelayMs(attempt);
      },
    });
    return subscriber;
  }

  async #sendSubscribe(subscriber: Redis, name: string): Promise<void> {
    await this.#ready(subscriber);
    try {
      await withTimeout(subscriber.subscribe(name), UNAVAILABLE_AFTER_MS);
    } catch (error) {
      throw this.#toStoreError(error);
    }
  }

  #dispatch(channel: string, message: string): void {
    const channelSubscriptions = this.#channels.get(channel);
    if (!channelSubscriptions) return;
    // Handlers run inside ioredis's reply parser: an exception escaping here would corrupt the
    // parsing of the rest of the buffer, so each handler is isolated.
    for (const subscription of [...channelSubscriptions.subscriptions]) {
      if (!channelSubscriptions.subscriptions.has(subscription)) continue;
      try {
        subscription.onMessage(message);
      } catch (error) {
        this.#onError(error);
      }
    }
  }

  #interrupted(): void {
    for (const { subscriptions } of [...this.#channels.values()]) {
      for (const subscription of [...subscriptions]) {
        try {
          subscription.onInterrupted?.();
        } catch (error) {
          this.#onError(error);
        }
      }
    }
  }

  #watch(connection: Connection): void {
    const report = (error: unknown): void => {
      this.#lastConnectionError = error;
      this.#onError(error);
    };
    connection.on('ready', () => this.#connectedOnce.add(connection));
    // An 'error' listener is mandatory: without one ioredis prints every reconnect failure itself.
    connection.on('error', report);
    // A cluster reports the failures of its nodes' connections separately.
    if (connection instanceof Cluster) connection.on('node error', report);
  }

  /**
   * Redis rejecting a command is the caller's problem; anything else means Redis is unreachable, and
   * so does a cluster refusing commands while it cannot serve the key's slot (CLUSTERDOWN).
   */
  #toStoreError(error: unknown): unknown {
    if (error instanceof StateStoreUnavailableError) return error;
    if (error instanceof ReplyError && !String((error as Error).message).startsWith('CLUSTERDOWN')) {
      return error;
    }
    return new StateStoreUnavailableError('Redis is unavailable', { cause: error });
  }

  #assertOpen(): void {
    if (this.#closing) throw new StateStoreUnavailableError('RedisStateStore is closed');
  }
}

/**
 * The node through which a cluster store publishes. A cluster client sends a command without keys,
 * such as PUBLISH, to any node, and a message reaches a subscriber on another node over the cluster
 * bus: two messages published through different nodes can arrive in either order. Publishing
 * through one node keeps a store's messages in order; it is the same node for as long as it stays in
 * the cluster, and when it leaves another takes over.
 */
function publishingNode(cluster: Cluster): Connection {
  const masters = cluster.nodes('master');
  // A ready cluster client knows its masters; should it know none, it picks a node itself.
  if (masters.length === 0) return cluster;
  const address = ({ options }: Redis) => `${options.host}:${options.port}`;
  return masters.reduce((first, node) => (address(node) < address(first) ? node : first));
}

/**
 * A cluster's node connections take the user name, password and TLS of the URL; its host and port
 * are replaced by the nodes the cluster announces. (A cluster has only database 0: the URL's path is
 * refused by the configuration.)
 */
function clusterOptions(url: string, redisOptions: RedisOptions | undefined): ClusterOptions {
  const parsed = new URL(url);
  const credentials: RedisOptions = {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
  return {
    ...CLUSTER_FAIL_FAST_OPTIONS,
    redisOptions: { ...CLUSTER_FAIL_FAST_OPTIONS.redisOptions, ...credentials, ...redisOptions },
  };
}

class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** True when promise fulfils within ms; false when it rejects or takes longer. */
async function fulfilsWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  try {
    await withTimeout(promise, ms);
    return true;
  } catch {
    return false;
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`No answer from Redis within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
