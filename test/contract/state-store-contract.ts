import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { compareLogIds, type StateStore } from '../../src/state/state-store.ts';

/**
 * Creates a store. Calls without a namespace must return stores over the same keys and channels
 * (one shared prefix); a namespace must map to a prefix distinct from that one and from other namespaces.
 */
export type StateStoreFactory = (options?: { namespace?: string }) => StateStore | Promise<StateStore>;

/** Collects messages and lets a test wait for a given one without guessing at delivery times. */
class Inbox {
  readonly messages: string[] = [];
  readonly #waiters: { message: string; resolve: () => void }[] = [];

  readonly receive = (message: string): void => {
    this.messages.push(message);
    for (const waiter of this.#waiters.filter((candidate) => candidate.message === message)) {
      waiter.resolve();
    }
  };

  waitFor(message: string): Promise<void> {
    if (this.messages.includes(message)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ message, resolve }));
  }
}

/**
 * The behaviour every StateStore must share. Tests run against the real backend; the only sleeps
 * wait out one-second TTLs, and pub/sub absence is proven by a later marker message (messages on a
 * connection arrive in publish order) rather than by waiting.
 */
export function describeStateStoreContract(name: string, makeStore: StateStoreFactory): void {
  describe(`StateStore contract: ${name}`, () => {
    const openStores: StateStore[] = [];

    async function open(options?: { namespace?: string }): Promise<StateStore> {
      const store = await makeStore(options);
      openStores.push(store);
      return store;
    }

    /**
     * A second handle on the same state, as another server instance would have. In-process stores
     * share nothing between instances, so for them the same object stands in for "another instance".
     */
    async function openPeer(store: StateStore): Promise<StateStore> {
      return store.kind === 'memory' ? store : open();
    }

    afterEach(async () => {
      await Promise.all(openStores.splice(0).map((store) => store.close()));
    });

    describe('setIfAbsent', () => {
      it('stores only when the key is absent', async () => {
        const store = await open();
        expect(await store.setIfAbsent('jti:once', 'first', 60)).toBe(true);
        expect(await store.setIfAbsent('jti:once', 'second', 60)).toBe(false);
        expect(await store.get('jti:once')).toBe('first');
      });

      it('lets exactly one of many concurrent callers win', async () => {
        const store = await open();
        const peer = await openPeer(store);
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, index) =>
            (index % 2 ? peer : store).setIfAbsent('lock:race', `caller-${index}`, 60),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('refuses a key written by set', async () => {
        const store = await open();
        await store.set('jti:set-first', 'v', 60);
        expect(await store.setIfAbsent('jti:set-first', 'w', 60)).toBe(false);
      });
    });

    describe('set / get / getMany / delete', () => {
      it('returns what was set, and null for unknown keys', async () => {
        const store = await open();
        await store.set('plain:a', 'alpha', 60);
        expect(await store.get('plain:a')).toBe('alpha');
        expect(await store.get('plain:missing')).toBeNull();
      });

      it('overwrites an existing value', async () => {
        const store = await open();
        await store.set('plain:overwrite', 'old', 60);
        await store.set('plain:overwrite', 'new', 60);
        expect(await store.get('plain:overwrite')).toBe('new');
      });

      it('preserves arbitrary string values', async () => {
        const store = await open();
        const value = JSON.stringify({ text: 'ünïcødé ✓', empty: '', newline: 'a\nb' });
        await store.set('plain:json', value, 60);
        await store.set('plain:empty', '', 60);
        expect(await store.get('plain:json')).toBe(value);
        expect(await store.get('plain:empty')).toBe('');
      });

      it('getMany returns values in key order with null for missing keys', async () => {
        const store = await open();
        await store.set('many:one', '1', 60);
        await store.set('many:two', '2', 60);
        expect(await store.getMany(['many:two', 'many:missing', 'many:one'])).toEqual(['2', null, '1']);
        expect(await store.getMany([])).toEqual([]);
      });

      it('delete removes the key and ignores missing keys', async () => {
        const store = await open();
        await store.set('del:a', 'x', 60);
        await store.delete('del:a');
        await store.delete('del:never-existed');
        expect(await store.get('del:a')).toBeNull();
        expect(await store.setIfAbsent('del:a', 'again', 60)).toBe(true);
      });

      it('is visible to another instance', async () => {
        const store = await open();
        const peer = await openPeer(store);
        await store.set('shared:key', 'from-store', 60);
        expect(await peer.get('shared:key')).toBe('from-store');
        await peer.delete('shared:key');
        expect(await store.get('shared:key')).toBeNull();
      });

      it('rejects TTLs that are not positive whole seconds', async () => {
        const store = await open();
        await expect(store.set('ttl:bad', 'v', 0)).rejects.toThrow(RangeError);
        await expect(store.setIfAbsent('ttl:bad', 'v', 1.5)).rejects.toThrow(RangeError);
        await expect(store.increment('ttl:bad', -1)).rejects.toThrow(RangeError);
        expect(await store.get('ttl:bad')).toBeNull();
      });
    });

    describe('replaceIf', () => {
      it('writes only over the value the caller read, or over nothing when it read nothing', async () => {
        const store = await open();
        const peer = await openPeer(store);
        expect(await store.replaceIf('cas:a', null, 'first', 60)).toBe(true);
        expect(await peer.replaceIf('cas:a', null, 'second', 60)).toBe(false);
        expect(await peer.replaceIf('cas:a', 'stale', 'second', 60)).toBe(false);
        expect(await peer.get('cas:a')).toBe('first');
        expect(await peer.replaceIf('cas:a', 'first', 'second', 60)).toBe(true);
        expect(await store.get('cas:a')).toBe('second');
        expect(await store.ttl('cas:a')).toBeGreaterThan(0);
        // An empty value is a value, not an absent key.
        await store.set('cas:empty', '', 60);
        expect(await store.replaceIf('cas:empty', null, 'x', 60)).toBe(false);
        expect(await store.replaceIf('cas:empty', '', 'x', 60)).toBe(true);
        await expect(store.replaceIf('cas:b', null, 'x', 0)).rejects.toThrow(RangeError);
      });

      it('lets exactly one of many concurrent callers replace the same value', async () => {
        const store = await open();
        const peer = await openPeer(store);
        await store.set('cas:race', 'read', 60);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2 ? store : peer).replaceIf('cas:race', 'read', `w${i}`, 60),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
      });
    });

    describe('reserve and release', () => {
      it('never passes the limit, however many reserve at once, across instances', async () => {
        const store = await open();
        const peer = await openPeer(store);
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, index) => (index % 2 ? peer : store).reserve('limit:burst', 7, 60)),
        );
        expect(results.filter((result) => result.reserved)).toHaveLength(7);
        expect(results.every((result) => result.ttlSeconds > 0 && result.ttlSeconds <= 60)).toBe(true);
        expect(await store.get('limit:burst')).toBe('7');
      });

      it('a release makes room for one more, never goes below zero and creates nothing', async () => {
        const store = await open();
        expect(await store.reserve('limit:one', 1, 60)).toMatchObject({ reserved: true, count: 1 });
        expect(await store.reserve('limit:one', 1, 60)).toMatchObject({ reserved: false, count: 1 });
        await store.release('limit:one');
        await store.release('limit:one');
        expect(await store.get('limit:one')).toBe('0');
        expect(await store.reserve('limit:one', 1, 60)).toMatchObject({ reserved: true, count: 1 });
        await store.release('limit:none');
        expect(await store.get('limit:none')).toBeNull();
      });
    });

    describe('increment', () => {
      it('counts from 1', async () => {
        const store = await open();
        const peer = await openPeer(store);
        expect(await store.increment('rate:count', 60)).toBe(1);
        expect(await peer.increment('rate:count', 60)).toBe(2);
        expect(await store.increment('rate:count', 60)).toBe(3);
        expect(await store.get('rate:count')).toBe('3');
      });

      it('counts every concurrent increment', async () => {
        const store = await open();
        const results = await Promise.all(
          Array.from({ length: 20 }, () => store.increment('rate:burst', 60)),
        );
        expect([...results].sort((a, b) => a - b)).toEqual(
          Array.from({ length: 20 }, (_, index) => index + 1),
        );
      });

      it('starts the window at the first increment; later increments do not move it', async () => {
        const store = await open();
        await store.increment('rate:window', 5);
        await store.increment('rate:window', 3600);
        const remaining = await store.ttl('rate:window');
        expect(remaining).toBeGreaterThan(0);
        expect(remaining).toBeLessThanOrEqual(5);
      });

      it('rejects a value that is not an integer', async () => {
        const store = await open();
        await store.set('rate:text', 'not-a-number', 60);
        await expect(store.increment('rate:text', 60)).rejects.toThrow();
        expect(await store.get('rate:text')).toBe('not-a-number');
      });
    });

    describe('ttl', () => {
      it('is null for a missing key and at most the TTL given for a stored one', async () => {
        const store = await open();
        expect(await store.ttl('ttl:missing')).toBeNull();
        await store.set('ttl:set', 'v', 60);
        await store.setIfAbsent('ttl:nx', 'v', 30);
        const forSet = await store.ttl('ttl:set');
        const forSetIfAbsent = await store.ttl('ttl:nx');
        expect(forSet).toBeGreaterThan(30);
        expect(forSet).toBeLessThanOrEqual(60);
        expect(forSetIfAbsent).toBeGreaterThan(0);
        expect(forSetIfAbsent).toBeLessThanOrEqual(30);
      });

      it('is reset by set', async () => {
        const store = await open();
        await store.set('ttl:reset', 'v', 5);
        await store.set('ttl:reset', 'v', 600);
        expect(await store.ttl('ttl:reset')).toBeGreaterThan(5);
      });

      it('is null after delete', async () => {
        const store = await open();
        await store.set('ttl:deleted', 'v', 60);
        await store.delete('ttl:deleted');
        expect(await store.ttl('ttl:deleted')).toBeNull();
      });
    });

    // One wait for every expiry behaviour keeps the suite's sleeping to about a second.
    it('forgets entries, single-use markers and counter windows once their TTL has passed', async () => {
      const store = await open();
      await store.set('expiry:value', 'v', 1);
      expect(await store.setIfAbsent('expiry:jti', 'used', 1)).toBe(true);
      expect(await store.setIfAbsent('expiry:jti', 'replay', 1)).toBe(false);
      expect(await store.increment('expiry:counter', 1)).toBe(1);
      expect(await store.increment('expiry:counter', 1)).toBe(2);
      await store.set('expiry:long', 'kept', 60);

      await sleep(1200);

      expect(await store.get('expiry:value')).toBeNull();
      expect(await store.getMany(['expiry:value', 'expiry:long'])).toEqual([null, 'kept']);
      expect(await store.ttl('expiry:value')).toBeNull();
      expect(await store.setIfAbsent('expiry:jti', 'fresh', 1)).toBe(true);
      expect(await store.get('expiry:jti')).toBe('fresh');
      expect(await store.increment('expiry:counter', 1)).toBe(1);
    });

    describe('publish / subscribe', () => {
      it('delivers messages published by another instance, in order', async () => {
        const subscriberStore = await open();
        const publisherStore = await openPeer(subscriberStore);
        const inbox = new Inbox();
        await subscriberStore.subscribe('events', inbox.receive);

        await publisherStore.publish('events', 'one');
        await publisherStore.publish('events', 'two');
        await publisherStore.publish('events', 'three');
        await inbox.waitFor('three');

        expect(inbox.messages).toEqual(['one', 'two', 'three']);
      });

      it('tells a subscription that it may miss messages once its store closes', async () => {
        const store = await makeStore();
        let interruptions = 0;
        const unsubscribed = await store.subscribe(
          'closing',
          () => {},
          () => (interruptions += 1),
        );
        const kept = await store.subscribe(
          'closing-kept',
          () => {},
          () => (interruptions += 10),
        );
        await unsubscribed();
        expect(interruptions).toBe(0);
        await store.close();
        expect(interruptions).toBe(10);
        await kept();
      });

      it('delivers a store its own publications', async () => {
        const store = await open();
        const inbox = new Inbox();
        await store.subscribe('self', inbox.receive);
        await store.publish('self', 'echo');
        await inbox.waitFor('echo');
        expect(inbox.messages).toEqual(['echo']);
      });

      it('delivers each message to every handler of the channel, and only that channel', async () => {
        const store = await open();
        const publisher = await openPeer(store);
        const first = new Inbox();
        const second = new Inbox();
        const otherChannel = new Inbox();
        await store.subscribe('fanout', first.receive);
        await store.subscribe('fanout', second.receive);
        await store.subscribe('fanout-other', otherChannel.receive);

        await publisher.publish('fanout', 'hello');
        await publisher.publish('fanout-other', 'marker');
        await Promise.all([first.waitFor('hello'), second.waitFor('hello'), otherChannel.waitFor('marker')]);

        expect(first.messages).toEqual(['hello']);
        expect(second.messages).toEqual(['hello']);
        expect(otherChannel.messages).toEqual(['marker']);
      });

      it('keeps delivering to other handlers when one throws', async () => {
        const store = await open();
        const inbox = new Inbox();
        await store.subscribe('throwing', () => {
          throw new Error('handler bug');
        });
        await store.subscribe('throwing', inbox.receive);
        await store.publish('throwing', 'first');
        await store.publish('throwing', 'second');
        await inbox.waitFor('second');
        expect(inbox.messages).toEqual(['first', 'second']);
      });

      it('stops delivery to an unsubscribed handler while others on the channel keep receiving', async () => {
        const store = await open();
        const publisher = await openPeer(store);
        const leaving = new Inbox();
        const staying = new Inbox();
        const unsubscribe = await store.subscribe('partial', leaving.receive);
        await store.subscribe('partial', staying.receive);

        await publisher.publish('partial', 'before');
        await Promise.all([leaving.waitFor('before'), staying.waitFor('before')]);
        await unsubscribe();
        await unsubscribe(); // idempotent
        await publisher.publish('partial', 'after');
        await staying.waitFor('after');

        expect(leaving.messages).toEqual(['before']);
        expect(staying.messages).toEqual(['before', 'after']);
      });

      it('stops delivery once the last handler of a channel unsubscribes, and can subscribe again', async () => {
        const store = await open();
        const publisher = await openPeer(store);
        const gone = new Inbox();
        const marker = new Inbox();
        const unsubscribe = await store.subscribe('left', gone.receive);
        await store.subscribe('marker', marker.receive);
        await unsubscribe();

        await publisher.publish('left', 'unheard');
        await publisher.publish('marker', 'after-unheard');
        await marker.waitFor('after-unheard');
        expect(gone.messages).toEqual([]);

        const back = new Inbox();
        await store.subscribe('left', back.receive);
        await publisher.publish('left', 'heard');
        await back.waitFor('heard');
        expect(back.messages).toEqual(['heard']);
        expect(gone.messages).toEqual([]);
      });
    });

    describe('log', () => {
      it('appends entries with increasing ids and reads them after a position, oldest first', async () => {
        const store = await open();
        const peer = await openPeer(store);
        expect(await store.lastLogId('log:basic')).toBe('0-0');
        const ids: string[] = [];
        for (const value of ['one', 'two', 'three', 'four']) {
          ids.push(await (ids.length % 2 ? peer : store).appendLog('log:basic', value, 100));
        }
        for (let i = 1; i < ids.length; i++) expect(compareLogIds(ids[i - 1]!, ids[i]!)).toBeLessThan(0);
        expect(await peer.lastLogId('log:basic')).toBe(ids[3]);

        const all = await peer.readLog('log:basic', '0-0', 100);
        expect(all).toEqual({
          entries: ['one', 'two', 'three', 'four'].map((value, i) => ({ id: ids[i], value })),
          truncated: false,
        });
        const after = await store.readLog('log:basic', ids[1]!, 100);
        expect(after.entries.map((e) => e.value)).toEqual(['three', 'four']);
        const limited = await store.readLog('log:basic', '0-0', 2);
        expect(limited.entries.map((e) => e.value)).toEqual(['one', 'two']);
        expect(await store.readLog('log:basic', ids[3]!, 100)).toEqual({ entries: [], truncated: false });
      });

      it('keeps the newest entries and tells a reader behind the trimmed ones that it missed some', async () => {
        const store = await open();
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push(await store.appendLog('log:trimmed', `v${i}`, 3));
        const fromStart = await store.readLog('log:trimmed', '0-0', 100);
        expect(fromStart.entries.map((e) => e.value)).toEqual(['v2', 'v3', 'v4']);
        expect(fromStart.truncated).toBe(true);
        // A position at the newest trimmed entry misses nothing that is still kept.
        expect(await store.readLog('log:trimmed', ids[1]!, 100)).toMatchObject({ truncated: false });
        expect(await store.readLog('log:trimmed', ids[0]!, 100)).toMatchObject({ truncated: true });
      });

      it('starts an unknown log empty and refuses malformed positions', async () => {
        const store = await open();
        expect(await store.readLog('log:none', '0-0', 10)).toEqual({ entries: [], truncated: false });
        await expect(store.readLog('log:none', 'nonsense', 10)).rejects.toThrow(RangeError);
        await expect(store.appendLog('log:none', 'v', 0)).rejects.toThrow(RangeError);
      });

      it('refuses an empty log or index name', async () => {
        const store = await open();
        await expect(store.appendLog('', 'v', 10)).rejects.toThrow(RangeError);
        await expect(store.readLog('', '0-0', 10)).rejects.toThrow(RangeError);
        await expect(store.lastLogId('')).rejects.toThrow(RangeError);
        await expect(store.indexPut('', 'm', 'v', 1)).rejects.toThrow(RangeError);
        await expect(store.indexRange('', 0)).rejects.toThrow(RangeError);
        await expect(store.indexPrune('', 0)).rejects.toThrow(RangeError);
      });
    });

    describe('index', () => {
      it('stores values by member, replaces them, and ranges from a minimum score', async () => {
        const store = await open();
        const peer = await openPeer(store);
        await store.indexPut('index:basic', 'b', 'bravo', 20);
        await store.indexPut('index:basic', 'a', 'alpha', 10);
        await peer.indexPut('index:basic', 'c', 'charlie', 30);
        await store.indexPut('index:basic', 'a', 'alpha-2', 25);
        expect(await peer.indexRange('index:basic', 0)).toEqual([
          { member: 'b', value: 'bravo', score: 20 },
          { member: 'a', value: 'alpha-2', score: 25 },
          { member: 'c', value: 'charlie', score: 30 },
        ]);
        expect((await store.indexRange('index:basic', 25)).map((e) => e.member)).toEqual(['a', 'c']);
        expect(await store.indexRange('index:missing', 0)).toEqual([]);
      });

      it('prunes members scored at most the bound', async () => {
        const store = await open();
        for (let i = 1; i <= 5; i++) await store.indexPut('index:prune', `m${i}`, `v${i}`, i * 100);
        expect(await store.indexPrune('index:prune', 300)).toBe(3);
        expect(await store.indexPrune('index:prune', 300)).toBe(0);
        expect(await store.indexRange('index:prune', 0)).toEqual([
          { member: 'm4', value: 'v4', score: 400 },
          { member: 'm5', value: 'v5', score: 500 },
        ]);
        // A pruned member can be stored again.
        await store.indexPut('index:prune', 'm1', 'again', 1000);
        expect((await store.indexRange('index:prune', 1000)).map((e) => e.value)).toEqual(['again']);
      });

      it('keeps logs and indexes of stores with different prefixes apart', async () => {
        const store = await open();
        const other = await open({ namespace: 'other' });
        await store.appendLog('isolated:log', 'mine', 10);
        await store.indexPut('isolated:index', 'm', 'mine', 1);
        expect(await other.lastLogId('isolated:log')).toBe('0-0');
        expect(await other.indexRange('isolated:index', 0)).toEqual([]);
      });
    });

    describe('prefix isolation', () => {
      it('keeps keys of stores with different prefixes apart', async () => {
        const store = await open();
        const other = await open({ namespace: 'other' });
        await store.set('isolated:key', 'mine', 60);
        expect(await other.get('isolated:key')).toBeNull();
        expect(await other.getMany(['isolated:key'])).toEqual([null]);
        expect(await other.ttl('isolated:key')).toBeNull();
        expect(await other.setIfAbsent('isolated:key', 'theirs', 60)).toBe(true);
        expect(await other.increment('isolated:counter', 60)).toBe(1);
        await other.delete('isolated:key');
        expect(await store.get('isolated:key')).toBe('mine');
        expect(await store.increment('isolated:counter', 60)).toBe(1);
      });

      it('keeps channels of stores with different prefixes apart', async () => {
        const store = await open();
        const other = await open({ namespace: 'other' });
        const inbox = new Inbox();
        await other.subscribe('isolated-channel', inbox.receive);

        await store.publish('isolated-channel', 'not-for-other');
        await other.publish('isolated-channel', 'marker');
        await inbox.waitFor('marker');

        expect(inbox.messages).toEqual(['marker']);
      });
    });

    describe('lifecycle', () => {
      it('ping resolves while the backend is reachable', async () => {
        const store = await open();
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('close is idempotent and later calls reject', async () => {
        const store = await open();
        await store.set('lifecycle:key', 'v', 60);
        await store.close();
        await store.close();
        await Promise.all([store.close(), store.close()]);
        await expect(store.get('lifecycle:key')).rejects.toThrow();
        await expect(store.ping()).rejects.toThrow();
      });

      it('closes a store with live subscriptions', async () => {
        const store = await open();
        const unsubscribe = await store.subscribe('lifecycle-channel', () => {});
        await store.close();
        await unsubscribe();
      });
    });
  });
}
