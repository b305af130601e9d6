import { describe, expect, it } from 'vitest';
import { Float32Pool } from './pooled-backend.js';
import { ScratchBuffer, type FloatAllocator } from './tensor-data.js';

/** A heap allocator that records frees and can be told to fail. */
function testAllocator(failAbove = Infinity): FloatAllocator & { freed: Float32Array[] } {
  const freed: Float32Array[] = [];
  return {
    freed,
    alloc(length) {
      if (length > failAbove) throw new RangeError('out of memory');
      return new Float32Array(length);
    },
    free(view) {
      freed.push(view);
    },
  };
}

describe('Float32Pool', () => {
  it('reuses a disposed tensor array for the next request of the same length only', () => {
    const pool = new Float32Pool({ allocator: testAllocator() });
    const a = pool.take(100);
    expect(pool.adopt(a)).toBe(a);
    pool.recycle(a);
    expect(pool.take(99)).not.toBe(a);
    expect(pool.take(100)).toBe(a);
    expect(pool.stats).toMatchObject({ taken: 3, allocated: 2, recycled: 1 });
  });

  it('copies arrays registered twice or viewing pooled memory, and never recycles foreign arrays', () => {
    const pool = new Float32Pool();
    const a = pool.take(8);
    expect(pool.adopt(a)).toBe(a);
    expect(pool.adopt(a)).not.toBe(a); // a second tensor must not share it
    const view = a.subarray(2, 6);
    expect(pool.adopt(view)).not.toBe(view);
    const foreign = new Float32Array(8);
    expect(pool.adopt(foreign)).toBe(foreign);
    pool.recycle(foreign);
    expect(pool.take(8)).not.toBe(foreign);
  });

  it('releases idle arrays beyond its budget to the allocator', () => {
    const allocator = testAllocator();
    const pool = new Float32Pool({ allocator, maxIdleBytes: 1000 });
    const arrays = [pool.take(100), pool.take(100), pool.take(100)];
    for (const a of arrays) pool.adopt(a);
    for (const a of arrays) pool.recycle(a);
    expect(pool.idleByteCount).toBeLessThanOrEqual(1000);
    expect(allocator.freed.length).toBeGreaterThan(0);
  });

  it('falls back to unpooled heap arrays when the allocator is exhausted', () => {
    const pool = new Float32Pool({ allocator: testAllocator(10) });
    const big = pool.take(11);
    expect(big.length).toBe(11);
    expect(pool.adopt(big)).toBe(big);
    pool.recycle(big);
    expect(pool.stats.recycled).toBe(0);
  });
});

describe('ScratchBuffer', () => {
  it('grows geometrically, frees what it replaces, and survives an exhausted allocator', () => {
    const allocator = testAllocator(1000);
    const scratch = new ScratchBuffer(allocator);
    expect(scratch.get(10).length).toBe(10);
    expect(scratch.get(100).length).toBe(100);
    expect(allocator.freed.length).toBe(1);
    expect(scratch.get(5000).length).toBe(5000); // heap fallback
    scratch.release();
    expect(allocator.freed.length).toBe(2); // the heap fallback is not handed to the allocator
  });
});
