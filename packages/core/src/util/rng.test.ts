import { describe, expect, it } from 'vitest';
import { Rng } from './rng.js';
import { InvalidArgumentError } from '../errors.js';

/** Independent transcription of the published sfc32 step, using BigInt arithmetic. */
function referenceSfc32(words: readonly number[], count: number): number[] {
  const mask = (1n << 32n) - 1n;
  let [a, b, c, d] = words.map((w) => BigInt(w >>> 0)) as [bigint, bigint, bigint, bigint];
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = (a + b + d) & mask;
    d = (d + 1n) & mask;
    a = b ^ (b >> 9n);
    b = (c + (c << 3n)) & mask;
    c = ((((c << 21n) | (c >> 11n)) & mask) + t) & mask;
    out.push(Number(t));
  }
  return out;
}

describe('Rng', () => {
  it('implements sfc32 exactly', () => {
    const rng = new Rng(1234);
    const words = rng.state().words;
    const expected = referenceSfc32(words, 1000);
    const got = Array.from({ length: 1000 }, () => rng.nextUint32());
    expect(got).toEqual(expected);
  });

  it('is deterministic per seed and differs across seeds', () => {
    const a = Array.from({ length: 8 }, ((r) => () => r.nextUint32())(new Rng(42)));
    const b = Array.from({ length: 8 }, ((r) => () => r.nextUint32())(new Rng(42)));
    const c = Array.from({ length: 8 }, ((r) => () => r.nextUint32())(new Rng(43)));
    const d = Array.from({ length: 8 }, ((r) => () => r.nextUint32())(new Rng('42')));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a).not.toEqual(d);
  });

  it('forks depend only on the key and label, not on parent usage', () => {
    const parent1 = new Rng(7);
    const parent2 = new Rng(7);
    for (let i = 0; i < 100; i++) parent2.uniform();
    const f1 = parent1.fork('crop');
    const f2 = parent2.fork('crop');
    expect(f1.key).toBe(f2.key);
    expect([f1.nextUint32(), f1.nextUint32()]).toEqual([f2.nextUint32(), f2.nextUint32()]);
    const other = parent1.fork('shuffle');
    expect(other.nextUint32()).not.toBe(parent1.fork('crop').nextUint32());
    // Nested forks are stable too.
    expect(new Rng(7).fork('a').fork(3).nextUint32()).toBe(new Rng(7).fork('a').fork(3).nextUint32());
  });

  it('uniform has the right range and moments', () => {
    const rng = new Rng(1);
    const n = 200_000;
    let sum = 0;
    let sumSq = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      sum += u;
      sumSq += u * u;
      min = Math.min(min, u);
      max = Math.max(max, u);
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(sum / n).toBeCloseTo(0.5, 2);
    expect(sumSq / n - (sum / n) ** 2).toBeCloseTo(1 / 12, 2);
    const v = rng.uniform(-3, 5);
    expect(v).toBeGreaterThanOrEqual(-3);
    expect(v).toBeLessThan(5);
  });

  it('int is unbiased (chi-square) and validates n', () => {
    const rng = new Rng('int');
    const k = 7;
    const n = 70_000;
    const counts = new Array<number>(k).fill(0);
    for (let i = 0; i < n; i++) counts[rng.int(k)]!++;
    const expected = n / k;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    // 6 degrees of freedom: P(chi2 > 22.46) = 0.001.
    expect(chi2).toBeLessThan(22.46);
    expect(() => rng.int(0)).toThrow(InvalidArgumentError);
    expect(() => rng.int(2.5)).toThrow(InvalidArgumentError);
    expect(rng.int(1)).toBe(0);
  });

  it('normal has mean 0 and variance 1', () => {
    const rng = new Rng(99);
    const n = 100_000;
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < n; i++) {
      const z = rng.normal();
      sum += z;
      sumSq += z * z;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.02);
    expect(sumSq / n).toBeGreaterThan(0.98);
    expect(sumSq / n).toBeLessThan(1.02);
    const scaled = new Rng(99).normal(10, 2);
    expect(scaled).toBeCloseTo(10 + 2 * new Rng(99).normal(), 12);
  });

  it('shuffle and permutation produce permutations, deterministically', () => {
    const p = new Rng(5).permutation(50);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect([...new Rng(5).permutation(50)]).toEqual([...p]);
    expect([...p]).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    const arr = ['a', 'b', 'c', 'd', 'e'];
    new Rng(5).shuffle(arr);
    expect([...arr].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    const sample = new Rng(3).sampleWithoutReplacement(10, 4);
    expect(new Set(sample).size).toBe(4);
    for (const s of sample) expect(s).toBeLessThan(10);
  });

  it('state round-trips through JSON and resumes the same stream', () => {
    const rng = new Rng(11);
    rng.normal(); // leaves a cached spare deviate
    const snapshot = JSON.parse(JSON.stringify(rng.state()));
    const restored = Rng.fromState(snapshot);
    expect(restored.normal()).toBe(rng.normal());
    expect(restored.nextUint32()).toBe(rng.nextUint32());
    expect(restored.fork('x').nextUint32()).toBe(rng.fork('x').nextUint32());
  });

  it('rejects invalid seeds', () => {
    expect(() => new Rng(Number.NaN)).toThrow(InvalidArgumentError);
    expect(() => new Rng(Infinity)).toThrow(InvalidArgumentError);
  });
});
