import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../../src/cache/bounded-cache.ts';

describe('BoundedCache', () => {
  it('forgets entries after their lifetime', () => {
    const cache = new BoundedCache<string, number>({ maxEntries: 10, ttlMs: 1000 });
    cache.set('a', 1, 0);
    expect(cache.get('a', 999)).toBe(1);
    expect(cache.get('a', 1000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('never holds more than its bound, dropping the oldest write first', () => {
    const cache = new BoundedCache<number, number>({ maxEntries: 3, ttlMs: 60_000 });
    for (let i = 0; i < 10; i++) cache.set(i, i, 0);
    expect(cache.size).toBe(3);
    expect([cache.get(6, 0), cache.get(7, 0), cache.get(8, 0), cache.get(9, 0)]).toEqual([
      undefined,
      7,
      8,
      9,
    ]);
  });

  it('rewriting a key makes it the newest', () => {
    const cache = new BoundedCache<string, number>({ maxEntries: 2, ttlMs: 60_000 });
    cache.set('a', 1, 0);
    cache.set('b', 2, 0);
    cache.set('a', 3, 0);
    cache.set('c', 4, 0);
    expect(cache.get('a', 0)).toBe(3);
    expect(cache.get('b', 0)).toBeUndefined();
  });

  it('counts hits and misses and deletes by predicate', () => {
    const cache = new BoundedCache<string, { org: string }>({ maxEntries: 10, ttlMs: 60_000 });
    cache.set('x', { org: 'o1' }, 0);
    cache.set('y', { org: 'o2' }, 0);
    cache.deleteWhere((v) => v.org === 'o1');
    expect(cache.get('x', 0)).toBeUndefined();
    expect(cache.get('y', 0)).toEqual({ org: 'o2' });
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 1 });
  });

  describe('fills', () => {
    it('refuses a fill that an invalidation touching it overtook, and keeps one that none touched', () => {
      const cache = new BoundedCache<string, { org: string }>({ maxEntries: 10, ttlMs: 60_000 });
      const a = cache.beginFill('a');
      const b = cache.beginFill('b');
      const c = cache.beginFill('c');
      cache.delete('a');
      cache.deleteWhere((value) => value.org === 'o2');
      expect(cache.completeFill(a, { org: 'o1' }, true, 0)).toBe(false);
      expect(cache.completeFill(b, { org: 'o2' }, true, 0)).toBe(false);
      expect(cache.completeFill(c, { org: 'o1' }, true, 0)).toBe(true);
      expect([cache.get('a', 0), cache.get('b', 0), cache.get('c', 0)]).toEqual([
        undefined,
        undefined,
        { org: 'o1' },
      ]);
    });

    it('an invalidation before the fill began does not count; clear touches every fill', () => {
      const cache = new BoundedCache<string, number>({ maxEntries: 10, ttlMs: 60_000 });
      cache.delete('a');
      const a = cache.beginFill('a');
      expect(cache.completeFill(a, 1, true, 0)).toBe(true);
      const b = cache.beginFill('b');
      cache.clear();
      expect(cache.completeFill(b, 2, true, 0)).toBe(false);
      expect(cache.size).toBe(0);
    });

    it('stays bounded under a flood of invalidations: every fill in flight then counts as overtaken', () => {
      const cache = new BoundedCache<number, number>({ maxEntries: 10, ttlMs: 60_000 });
      const fill = cache.beginFill(1);
      for (let i = 2; i < 5000; i++) cache.delete(i);
      expect(cache.completeFill(fill, 1, true, 0)).toBe(false);
      const next = cache.beginFill(1);
      expect(cache.completeFill(next, 1, true, 0)).toBe(true);
    });

    it('forgets invalidations that no fill in flight began before, so a long fill does not age out others', () => {
      const cache = new BoundedCache<number, number>({ maxEntries: 10, ttlMs: 60_000 });
      // Fills keep starting and ending while invalidations of other keys keep coming: none is refused.
      let previous = cache.beginFill(0);
      for (let i = 1; i < 5000; i++) {
        const next = cache.beginFill(i);
        cache.delete(-i);
        expect(cache.completeFill(previous, previous.key, true, 0)).toBe(true);
        previous = next;
      }
      expect(cache.completeFill(previous, previous.key, true, 0)).toBe(true);
    });

    it('a fill ends once; an abandoned or completed fill is never written', () => {
      const cache = new BoundedCache<string, number>({ maxEntries: 10, ttlMs: 60_000 });
      const fill = cache.beginFill('a');
      cache.abandonFill(fill);
      expect(cache.completeFill(fill, 1, true, 0)).toBe(false);
      expect(cache.size).toBe(0);
    });
  });
});
