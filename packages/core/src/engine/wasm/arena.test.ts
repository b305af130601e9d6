import { describe, expect, it } from 'vitest';
import { BackendError, InvalidArgumentError } from '../../errors.js';
import { ARENA_ALIGN, SharedArena } from './arena.js';
import { wasmApi } from './wasm-api.js';

const PAGE = 65536;

function arena(initialPages: number, maximumPages: number): SharedArena {
  const memory = new wasmApi.Memory({ initial: initialPages, maximum: maximumPages, shared: true });
  return new SharedArena(memory, { base: 1024, maximumPages });
}

describe('SharedArena', () => {
  it('hands out aligned, disjoint blocks above the reserved base', () => {
    const a = arena(1, 4);
    const offsets = [100, 1, 4096, 63].map((bytes) => ({ offset: a.allocBytes(bytes), bytes }));
    for (const { offset } of offsets) {
      expect(offset % ARENA_ALIGN).toBe(0);
      expect(offset).toBeGreaterThanOrEqual(1024);
    }
    const sorted = [...offsets].sort((x, y) => x.offset - y.offset);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.offset).toBeGreaterThanOrEqual(sorted[i - 1]!.offset + sorted[i - 1]!.bytes);
  });

  it('coalesces freed neighbours so a larger block fits where they were', () => {
    const a = arena(1, 1);
    const first = a.allocBytes(1000);
    const second = a.allocBytes(1000);
    const third = a.allocBytes(1000);
    a.freeBytes(second);
    a.freeBytes(first);
    expect(a.allocBytes(2000)).toBe(first);
    a.freeBytes(third);
    expect(a.usedBytes).toBe(2048);
  });

  it('grows the memory when full and keeps old views valid', () => {
    const a = arena(1, 64);
    const small = a.allocBytes(1024);
    const view = a.floats(small, 256);
    view.fill(7);
    const big = a.allocBytes(3 * PAGE);
    expect(a.sizeBytes).toBeGreaterThanOrEqual(4 * PAGE);
    expect(big + 3 * PAGE).toBeLessThanOrEqual(a.sizeBytes);
    // The old view (over the pre-growth buffer) still aliases the same memory.
    a.floats(small, 256)[3] = 42;
    expect(view[3]).toBe(42);
    expect(a.owns(view)).toBe(true);
    expect(a.owns(a.floats(big, 4))).toBe(true);
    expect(a.owns(new Float32Array(4))).toBe(false);
  });

  it('fails with an actionable error beyond the maximum and rejects bad frees', () => {
    const a = arena(1, 2);
    expect(() => a.allocBytes(3 * PAGE)).toThrow(BackendError);
    expect(() => a.allocBytes(-1)).toThrow(InvalidArgumentError);
    expect(() => a.freeBytes(12345)).toThrow(InvalidArgumentError);
  });
});
