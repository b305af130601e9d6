import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@vqkit/core';
import { coreFrameRange, crossfadeGains, planChunks, processChunked } from './chunking.js';

function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

/** Non-causal FIR y[t] = Σ_{k=-R..R} h[k]·x[t+k], zero outside the input. */
function fir(x: Float32Array, taps: Float32Array): Float32Array {
  const r = (taps.length - 1) / 2;
  const y = new Float32Array(x.length);
  for (let t = 0; t < x.length; t++) {
    let acc = 0;
    for (let k = -r; k <= r; k++) {
      const i = t + k;
      if (i >= 0 && i < x.length) acc += taps[k + r]! * x[i]!;
    }
    y[t] = acc;
  }
  return y;
}

const maxAbsDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('planChunks', () => {
  it('tiles the signal with hop-aligned cores and clipped context', () => {
    const chunks = planChunks(1000, { chunkLength: 320, context: 160, hop: 80 });
    expect(chunks.map((c) => [c.coreStart, c.coreEnd])).toEqual([[0, 320], [320, 640], [640, 960], [960, 1000]]);
    expect(chunks.map((c) => [c.inputStart, c.inputEnd])).toEqual([[0, 480], [160, 800], [480, 1000], [800, 1000]]);
    for (const c of chunks) expect(c.inputStart % 80).toBe(0);
    expect(planChunks(0, { chunkLength: 320 })).toEqual([]);
    expect(planChunks(5, { chunkLength: 320, context: 160 })).toEqual([{ index: 0, coreStart: 0, coreEnd: 5, inputStart: 0, inputEnd: 5 }]);
  });

  it('rejects misaligned or inconsistent options', () => {
    expect(() => planChunks(10, { chunkLength: 100, hop: 64 })).toThrow(InvalidArgumentError);
    expect(() => planChunks(10, { chunkLength: 128, context: 10, hop: 64 })).toThrow(InvalidArgumentError);
    expect(() => processChunked(new Float32Array(10), (x) => x, { chunkLength: 128, context: 16, crossfade: 64 })).toThrow(/crossfade/);
    expect(() => processChunked(new Float32Array(10), (x) => x, { chunkLength: 128, crossfade: 3, context: 4 })).toThrow(/even/);
  });
});

describe('processChunked', () => {
  const x = noise(5003, 1);
  const taps = noise(33, 2); // receptive field R = 16 either side
  const whole = fir(x, taps);

  it('reproduces an unchunked FIR filter exactly, hard-spliced or crossfaded', () => {
    for (const options of [
      { chunkLength: 512, context: 16 },
      { chunkLength: 512, context: 48, crossfade: 64 },
      { chunkLength: 64, context: 48, crossfade: 64, hop: 16 },
      { chunkLength: 1000, context: 100, crossfade: 100, curve: 'linear' as const },
    ]) {
      let calls = 0;
      const chunked = processChunked(x, (input) => {
        calls++;
        return fir(input, taps);
      }, options);
      expect(calls).toBe(Math.ceil(x.length / options.chunkLength));
      expect(maxAbsDiff(chunked, whole), JSON.stringify(options)).toBeLessThan(1e-6);
    }
  });

  it('shows the boundary error when context is shorter than the receptive field', () => {
    const chunked = processChunked(x, (input) => fir(input, taps), { chunkLength: 512, context: 4 });
    expect(maxAbsDiff(chunked, whole)).toBeGreaterThan(1e-3);
  });

  it('is the identity for an identity processor with a linear crossfade', () => {
    const y = processChunked(x, (input) => input.slice(), { chunkLength: 300, context: 50, crossfade: 100 });
    expect(maxAbsDiff(y, x)).toBeLessThan(1e-7);
  });

  it('rejects processors that change the length', () => {
    expect(() => processChunked(x, (input) => input.subarray(1), { chunkLength: 512 })).toThrow(InvalidArgumentError);
  });
});

describe('crossfade gains', () => {
  it('linear gains sum to 1; equal-power gains have unit power', () => {
    const lin = crossfadeGains(50, 'linear');
    const pow = crossfadeGains(50, 'equal-power');
    for (let i = 0; i < 50; i++) {
      expect(lin.fadeIn[i]! + lin.fadeOut[i]!).toBeCloseTo(1, 6);
      expect(pow.fadeIn[i]! ** 2 + pow.fadeOut[i]! ** 2).toBeCloseTo(1, 6);
      if (i > 0) expect(lin.fadeIn[i]!).toBeGreaterThan(lin.fadeIn[i - 1]!);
    }
  });
});

describe('coreFrameRange', () => {
  it('stitches per-chunk tokens into the unchunked token sequence', () => {
    const hop = 40;
    const reach = 60; // each token looks 60 samples beyond its frame on both sides
    const signal = noise(2000, 3);
    /** A toy frame-wise encoder: token j = sign pattern of windowed sums around frame j. */
    const encode = (input: Float32Array): number[] => {
      const tokens: number[] = [];
      for (let j = 0; j * hop < input.length; j++) {
        let a = 0;
        let b = 0;
        for (let i = j * hop - reach; i < (j + 1) * hop + reach; i++) {
          const v = i >= 0 && i < input.length ? input[i]! : 0;
          if (i < j * hop + hop / 2) a += v;
          else b += v;
        }
        tokens.push((a > 0 ? 1 : 0) + (b > 0 ? 2 : 0) + (a > b ? 4 : 0));
      }
      return tokens;
    };
    const reference = encode(signal);
    const chunks = planChunks(signal.length, { chunkLength: 400, context: 80, hop });
    const stitched = chunks.flatMap((chunk) => {
      const tokens = encode(signal.subarray(chunk.inputStart, chunk.inputEnd));
      const { start, end } = coreFrameRange(chunk, hop);
      return tokens.slice(start, end);
    });
    expect(stitched).toEqual(reference);
  });
});
