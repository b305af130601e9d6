import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../errors.js';
import { createWasmGemmEngine, type Im2colGeometry, type WasmGemmEngine } from './index.js';

function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

function randomArray(random: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n }, random);
}

function geometry(batch: number, h: number, w: number, inC: number, outC: number, top: number, left: number, outH: number, outW: number): Im2colGeometry & { outChannels: number } {
  return {
    batchSize: batch, inHeight: h, inWidth: w, inChannels: inC, outHeight: outH, outWidth: outW, outChannels: outC,
    filterHeight: 3, filterWidth: 3, strideHeight: 1, strideWidth: 1, dilationHeight: 1, dilationWidth: 1,
    padInfo: { top, left },
  };
}

/** Direct 3×3 stride-1 convolution in double precision (zero padding). */
function directConv(x: Float32Array, w: Float32Array, g: ReturnType<typeof geometry>): Float64Array {
  const { batchSize: n, inHeight: h, inWidth: wd, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = g;
  const y = new Float64Array(n * oh * ow * co);
  for (let b = 0; b < n; b++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
    for (let fy = 0; fy < 3; fy++) for (let fx = 0; fx < 3; fx++) {
      const iy = oy - g.padInfo.top + fy;
      const ix = ox - g.padInfo.left + fx;
      if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
      for (let c = 0; c < ci; c++) {
        const xv = x[((b * h + iy) * wd + ix) * ci + c]!;
        for (let o = 0; o < co; o++) y[((b * oh + oy) * ow + ox) * co + o] += xv * w[((fy * 3 + fx) * ci + c) * co + o]!;
      }
    }
  }
  return y;
}

/** Σ p·q over the `used` leading floats of each of `points` matrices `stride` apart (the padding between them is unspecified). */
function pointsDot(p: Float32Array, q: Float32Array, points: number, stride: number, used: number): number {
  let sum = 0;
  for (let k = 0; k < points; k++) for (let i = k * stride; i < k * stride + used; i++) sum += p[i]! * q[i]!;
  return sum;
}

function maxRelativeError(actual: Float32Array, expected: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < actual.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / scale;
}

/** conv(x, w) through the engine's transforms and a batched GEMM over the 36 points. */
function winogradConv(engine: WasmGemmEngine, x: Float32Array, w: Float32Array, g: ReturnType<typeof geometry>): Float32Array {
  const tiles = engine.winogradTiles(g);
  const [sv, su, sm] = [tiles * g.inChannels, g.inChannels * g.outChannels, tiles * g.outChannels].map((f) => engine.winogradStride(f)) as [number, number, number];
  const v = new Float32Array(36 * sv);
  const u = new Float32Array(36 * su);
  const m = new Float32Array(36 * sm);
  const y = new Float32Array(g.batchSize * g.outHeight * g.outWidth * g.outChannels);
  engine.winogradInput(x, g, v);
  engine.winogradFilter(w, g.inChannels, g.outChannels, false, u);
  engine.sgemm({ m: tiles, n: g.outChannels, k: g.inChannels, a: v, b: u, c: m, batch: 36, strideA: sv, strideB: su, strideC: sm });
  engine.winogradOutput(m, g, g.outChannels, y);
  return y;
}

describe('Winograd F(4x4, 3x3) and F(4x4, 2x2) transforms', () => {
  let single: WasmGemmEngine;
  let dual: WasmGemmEngine;
  beforeAll(async () => {
    single = await createWasmGemmEngine({ threads: 1 });
    dual = await createWasmGemmEngine({ threads: 2 });
  });
  afterAll(() => {
    single?.dispose();
    dual?.dispose();
  });

  it('compute the convolution (any padding 0..2, partial tiles) on one and two threads, from heap or engine memory', () => {
    const random = rng(5);
    const cases = [
      geometry(2, 7, 7, 8, 12, 1, 1, 7, 7),
      geometry(1, 10, 5, 4, 4, 0, 2, 8, 7),
      geometry(3, 6, 9, 16, 8, 2, 0, 8, 7),
      geometry(40, 9, 9, 16, 32, 1, 1, 9, 9),
    ];
    for (const g of cases) {
      const x = randomArray(random, g.batchSize * g.inHeight * g.inWidth * g.inChannels);
      const w = randomArray(random, 9 * g.inChannels * g.outChannels);
      const expected = directConv(x, w, g);
      const a = winogradConv(single, x, w, g);
      const inEngine = dual.alloc(x.length);
      inEngine.set(x);
      const b = winogradConv(dual, inEngine, w, g);
      dual.free(inEngine);
      expect(maxRelativeError(a, expected), JSON.stringify(g)).toBeLessThan(1e-5);
      expect(Array.from(b)).toEqual(Array.from(a));
    }
  });

  it('adjoints satisfy <Aᵀx, y> = <x, Ay> (output and filter transforms)', () => {
    const random = rng(6);
    const g = geometry(2, 7, 6, 4, 8, 1, 1, 7, 6);
    const tiles = single.winogradTiles(g);
    // Output transform: Y = T(M); adjoint: dM = Tᵀ(dY).
    const m = randomArray(random, 36 * single.winogradStride(tiles * 8));
    const dy = randomArray(random, 2 * 7 * 6 * 8);
    const y = new Float32Array(dy.length);
    const dm = new Float32Array(m.length);
    single.winogradOutput(m, g, 8, y);
    single.winogradOutputAdjoint(dy, g, 8, dm);
    const dot = (p: Float32Array, q: Float32Array) => p.reduce((s, v, i) => s + v * q[i]!, 0);
    const mDot = pointsDot(m, dm, 36, single.winogradStride(tiles * 8), tiles * 8);
    expect(Math.abs(dot(y, dy) - mDot) / Math.abs(dot(y, dy))).toBeLessThan(1e-5);
    // Filter transform: U = F(W); adjoint: dW = Fᵀ(dU).
    const w = randomArray(random, 9 * 4 * 8);
    const du = randomArray(random, 36 * single.winogradStride(4 * 8));
    const u = new Float32Array(du.length);
    const dw = new Float32Array(w.length);
    single.winogradFilter(w, 4, 8, false, u);
    single.winogradFilterAdjoint(du, 4, 8, dw);
    const uDot = pointsDot(u, du, 36, single.winogradStride(4 * 8), 4 * 8);
    expect(Math.abs(uDot - dot(w, dw)) / Math.abs(uDot)).toBeLessThan(1e-5);
  });

  it('the input transform adjoint satisfies <V(x), dV> = <x, Vᵀ(dV)> for 3×3 and 2×2 filters (one and two threads)', () => {
    const random = rng(8);
    const dot = (p: Float32Array, q: Float32Array) => p.reduce((s, v, i) => s + v * q[i]!, 0);
    for (const [r, g] of [
      [3, geometry(3, 7, 6, 8, 4, 1, 1, 7, 6)],
      [2, { ...geometry(2, 9, 8, 12, 4, 0, 0, 8, 7), filterHeight: 2, filterWidth: 2 }],
      [3, geometry(5, 5, 5, 4, 4, 2, 0, 7, 5)],
    ] as const) {
      const tiles = single.winogradTiles(g);
      const x = randomArray(random, g.batchSize * g.inHeight * g.inWidth * g.inChannels);
      const dv = randomArray(random, (r + 3) ** 2 * single.winogradStride(tiles * g.inChannels));
      const v = new Float32Array(dv.length);
      const dx = new Float32Array(x.length);
      const dx2 = new Float32Array(x.length).fill(7);
      single.winogradInput(x, g, v);
      single.winogradInputAdjoint(dv, g, dx);
      dual.winogradInputAdjoint(dv, g, dx2);
      const vDot = pointsDot(v, dv, (r + 3) ** 2, single.winogradStride(tiles * g.inChannels), tiles * g.inChannels);
      expect(Math.abs(vDot - dot(x, dx)) / Math.abs(vDot), `r=${r}`).toBeLessThan(1e-5);
      expect(Array.from(dx2)).toEqual(Array.from(dx));
    }
  });

  it('space-to-depth puts each 2×2 block of pixels in one pixel, and depth-to-space undoes it', () => {
    const random = rng(9);
    // A 4×4 stride-2 convolution of a 2×5×7×4 image with padding (1, 2): 3×3 outputs, a 4×4 space-to-depth image.
    const g = { ...geometry(2, 5, 7, 4, 4, 1, 2, 4, 4), filterHeight: 4, filterWidth: 4, strideHeight: 2, strideWidth: 2 };
    const x = randomArray(random, 2 * 5 * 7 * 4);
    const s2d = new Float32Array(2 * 4 * 4 * 16);
    dual.spaceToDepth(x, g, s2d);
    for (let b = 0; b < 2; b++) for (let j = 0; j < 4; j++) for (let i = 0; i < 4; i++) for (let ry = 0; ry < 2; ry++) for (let rx = 0; rx < 2; rx++) {
      const y = 2 * j + ry - 1;
      const xx = 2 * i + rx - 2;
      for (let c = 0; c < 4; c++) {
        const expected = y >= 0 && y < 5 && xx >= 0 && xx < 7 ? x[((b * 5 + y) * 7 + xx) * 4 + c]! : 0;
        expect(s2d[(((b * 4 + j) * 4 + i) * 4 + ry * 2 + rx) * 4 + c]).toBe(expected);
      }
    }
    const back = new Float32Array(x.length).fill(NaN);
    dual.depthToSpace(s2d, g, back);
    // Column 6 lies beyond the space-to-depth image (2·4 − 2 = 6 columns of x are covered): it comes back as 0.
    expect(Array.from(back)).toEqual(Array.from(x, (v, i) => (Math.floor(i / 4) % 7 === 6 ? 0 : v)));
  });

  it('a flipped filter transform is the transform of the filter rotated by 180°', () => {
    const random = rng(7);
    const w = randomArray(random, 9 * 4 * 4);
    const rotated = new Float32Array(w.length);
    for (let tap = 0; tap < 9; tap++) rotated.set(w.subarray(tap * 16, tap * 16 + 16), (8 - tap) * 16);
    const a = new Float32Array(36 * single.winogradStride(16));
    const b = new Float32Array(36 * single.winogradStride(16));
    single.winogradFilter(w, 4, 4, true, a);
    single.winogradFilter(rotated, 4, 4, false, b);
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('pads the distance between transform points to an odd number of cache lines', () => {
    expect([1, 16, 17, 32, 32768].map((f) => single.winogradStride(f))).toEqual([16, 16, 48, 48, 32784]);
  });

  it('rejects channel counts that are not multiples of 4, filters other than 3×3 and 2×2, and short arrays', () => {
    const g = geometry(1, 5, 5, 6, 4, 1, 1, 5, 5);
    const big = new Float32Array(36 * 1024);
    expect(() => single.winogradInput(new Float32Array(150), g, big)).toThrow(InvalidArgumentError);
    expect(() => single.winogradFilter(new Float32Array(9 * 4 * 5), 4, 5, false, big)).toThrow(InvalidArgumentError);
    expect(() => single.winogradInput(new Float32Array(100), { ...geometry(1, 5, 5, 4, 4, 0, 0, 3, 3), filterHeight: 4, filterWidth: 4 }, big)).toThrow(InvalidArgumentError);
    expect(() => single.winogradFilter(new Float32Array(100), 4, 4, false, big, 5 as 3)).toThrow(InvalidArgumentError);
    expect(() => single.winogradInput(new Float32Array(100), geometry(1, 5, 5, 4, 4, 1, 1, 5, 5), new Float32Array(36 * 16 - 1))).toThrow(/needs/);
  });
});
