import { describe, expect, it } from 'vitest';
import { ScratchBuffer, type FloatAllocator } from './tensor-data.js';
import { TransformCache } from './winograd-conv.js';

/** A heap allocator that counts what is outstanding. */
function countingAllocator(): FloatAllocator & { outstanding: Set<Float32Array> } {
  const outstanding = new Set<Float32Array>();
  return {
    outstanding,
    alloc(length) {
      const array = new Float32Array(length);
      outstanding.add(array);
      return array;
    },
    free(view) {
      if (!outstanding.delete(view)) throw new Error('freed twice or never allocated');
    },
  };
}

describe('TransformCache', () => {
  it('computes a transform once per (storage id, tag) and recomputes for another tag or length', () => {
    const cache = new TransformCache(countingAllocator(), 1 << 20);
    const fallback = new ScratchBuffer();
    const key = {};
    let fills = 0;
    const fill = (out: Float32Array) => {
      fills++;
      out.fill(fills);
    };
    const a = cache.get(key, 'V', 100, fill, fallback);
    const b = cache.get(key, 'V', 100, fill, fallback);
    expect(b).toBe(a);
    expect(fills).toBe(1);
    const c = cache.get(key, 'U', 100, fill, fallback);
    expect(c).not.toBe(a);
    expect(cache.get(key, 'V', 50, fill, fallback).length).toBe(50);
    expect(fills).toBe(3);
    // Without a storage id nothing is cached: the fallback buffer is filled every time.
    cache.get(undefined, 'V', 10, fill, fallback);
    cache.get(undefined, 'V', 10, fill, fallback);
    expect(fills).toBe(5);
  });

  it('drops the transforms of disposed tensors and reuses their arrays; clear() returns everything', () => {
    const allocator = countingAllocator();
    const cache = new TransformCache(allocator, 1 << 20, 1 << 20);
    const fallback = new ScratchBuffer();
    const live = new Set<object>();
    const first = {};
    live.add(first);
    const array = cache.get(first, 'V', 256, (out) => out.fill(1), fallback);
    live.delete(first);
    cache.prune((key) => live.has(key));
    const second = {};
    live.add(second);
    // Same length: the array of the disposed tensor is reused, and filled afresh.
    const reused = cache.get(second, 'V', 256, (out) => out.fill(2), fallback);
    expect(reused).toBe(array);
    expect(reused[0]).toBe(2);
    expect(allocator.outstanding.size).toBe(1);
    cache.clear();
    expect(allocator.outstanding.size).toBe(0);
    expect(cache.heldBytes).toBe(0);
  });

  it('evicts the least recently used entries beyond its budget and never caches arrays over a quarter of it', () => {
    const allocator = countingAllocator();
    const cache = new TransformCache(allocator, 4096 * 4, 0);
    const fallback = new ScratchBuffer();
    const keys = [{}, {}, {}, {}, {}];
    for (const key of keys) cache.get(key, 'V', 1024, (out) => out.fill(1), fallback);
    // The budget holds 4096 floats: at most four arrays of 1024 stay cached, the rest were freed.
    expect(cache.heldBytes).toBeLessThanOrEqual(4096 * 4);
    expect(allocator.outstanding.size).toBeLessThanOrEqual(4);
    let refilled = false;
    cache.get(keys[0], 'V', 1024, () => (refilled = true), fallback);
    expect(refilled).toBe(true); // the oldest entry was the one evicted
    const big = cache.get({}, 'V', 2048, (out) => out.fill(3), fallback);
    expect(allocator.outstanding.has(big)).toBe(false);
  });
});
