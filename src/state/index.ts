import type { RedisOptions } from 'ioredis';
import { MemoryStateStore } from './memory-state-store.ts';
import { RedisStateStore } from './redis-state-store.ts';
import type { StateStore } from './state-store.ts';

export type { MemoryStateStoreOptions } from './memory-state-store.ts';
export { MemoryStateStore } from './memory-state-store.ts';
export type { RedisStateStoreOptions } from './redis-state-store.ts';
export { RedisStateStore } from './redis-state-store.ts';
export type { Reservation, StateStore, Unsubscribe } from './state-store.ts';
export { DEFAULT_STATE_STORE_PREFIX, StateStoreUnavailableError } from './state-store.ts';

export interface CreateStateStoreOptions {
  /** When set, state is shared through Redis; otherwise it lives in this process only. */
  redisUrl?: string;
  /** Redis Cluster seed nodes; redisUrl then gives only user name, password and TLS. */
  redisClusterNodes?: Array<{ host: string; port: number }>;
  prefix?: string;
  /** ioredis options, e.g. `sentinels` and `name` for Redis Sentinel. */
  redisOptions?: RedisOptions;
  /** Connection errors and subscription-handler errors, e.g. for logging; see RedisStateStoreOptions. */
  onError?: (error: unknown) => void;
}

export function createStateStore(options: CreateStateStoreOptions): StateStore {
  const { redisUrl, redisClusterNodes, prefix, onError, redisOptions } = options;
  if (redisUrl) {
    return new RedisStateStore({
      url: redisUrl,
      prefix,
      onError,
      ...(redisClusterNodes ? { clusterNodes: redisClusterNodes } : {}),
      ...(redisOptions ? { redisOptions } : {}),
    });
  }
  if (redisClusterNodes) throw new Error('Redis Cluster nodes were given without a Redis URL');
  return new MemoryStateStore({ prefix, onError });
}
