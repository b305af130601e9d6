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
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Output size of a padded, strided, dilated convolution along one axis. */
function outSize(input: number, filter: number, stride: number, dilation: number, padBefore: number, padAfter: number): number {
  const effective = (filter - 1) * dilation + 1;
  return Math.max(0, Math.floor((input + padBefore + padAfter - effective) / stride) + 1);
}

function geometry(spec: {
  batch: number; h: number; w: number; c: number; fh: number; fw: number;
  sh: number; sw: number; dh: number; dw: number; top: number; left: number; bottom: number; right: number;
}): Im2colGeometry {
  return {
    batchSize: spec.batch, inHeight: spec.h, inWidth: spec.w, inChannels: spec.c,
    outHeight: outSize(spec.h, spec.fh, spec.sh, spec.dh, spec.top, spec.bottom),
    outWidth: outSize(spec.w, spec.fw, spec.sw, spec.dw, spec.left, spec.right),
    outChannels: 1, filterHeight: spec.fh, filterWidth: spec.fw,
    strideHeight: spec.sh, strideWidth: spec.sw, dilationHeight: spec.dh, dilationWidth: spec.dw,
    padInfo: { top: spec.top, left: spec.left },
  } as Im2colGeometry;
}

/** The definition: col[(b,oy,ox), (fy,fx,ci)] = x[b, oy·sh − top + fy·dh, ox·sw − left + fx·dw, ci], 0 outside the image. */
function referenceIm2col(x: Float32Array, g: Im2colGeometry): Float32Array {
  const cols = g.filterHeight * g.filterWidth * g.inChannels;
  const col = new Float32Array(g.batchSize * g.outHeight * g.outWidth * cols);
  let row = 0;
  for (let b = 0; b < g.batchSize; b++) {
    for (let oy = 0; oy < g.outHeight; oy++) {
      for (let ox = 0; ox < g.outWidth; ox++, row++) {
        for (let fy = 0; fy < g.filterHeight; fy++) {
          for (let fx = 0; fx < g.filterWidth; fx++) {
            const iy = oy * g.strideHeight - g.padInfo.top + fy * g.dilationHeight;
            const ix = ox * g.strideWidth - g.padInfo.left + fx * g.dilationWidth;
            for (let ci = 0; ci < g.inChannels; ci++) {
              const inside = iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth;
              col[row * cols + (fy * g.filterWidth + fx) * g.inChannels + ci] = inside
                ? x[((b * g.inHeight + iy) * g.inWidth + ix) * g.inChannels + ci]!
                : 0;
            }
          }
        }
      }
    }
  }
  return col;
}

/** The adjoint, by the same index map: every column entry is added onto the pixel it was read from. */
function referenceCol2im(col: Float32Array, g: Im2colGeometry): Float32Array {
  const cols = g.filterHeight * g.filterWidth * g.inChannels;
  const dx = new Float32Array(g.batchSize * g.inHeight * g.inWidth * g.inChannels);
  let row = 0;
  for (let b = 0; b < g.batchSize; b++) {
    for (let oy = 0; oy < g.outHeight; oy++) {
      for (let ox = 0; ox < g.outWidth; ox++, row++) {
        for (let fy = 0; fy < g.filterHeight; fy++) {
          for (let fx = 0; fx < g.filterWidth; fx++) {
            const iy = oy * g.strideHeight - g.padInfo.top + fy * g.dilationHeight;
            const ix = ox * g.strideWidth - g.padInfo.left + fx * g.dilationWidth;
            if (iy < 0 || iy >= g.inHeight || ix < 0 || ix >= g.inWidth) continue;
            for (let ci = 0; ci < g.inChannels; ci++) {
              dx[((b * g.inHeight + iy) * g.inWidth + ix) * g.inChannels + ci]! += col[row * cols + (fy * g.filterWidth + fx) * g.inChannels + ci]!;
            }
          }
        }
      }
    }
  }
  return dx;
}

const GEOMETRIES = [
  { batch: 1, h: 5, w: 5, c: 1, fh: 3, fw: 3, sh: 1, sw: 1, dh: 1, dw: 1, top: 1, left: 1, bottom: 1, right: 1 },
  { batch: 2, h: 9, w: 7, c: 3, fh: 3, fw: 3, sh: 2, sw: 2, dh: 1, dw: 1, top: 1, left: 1, bottom: 1, right: 1 },
  { batch: 1, h: 8, w: 11, c: 16, fh: 5, fw: 4, sh: 1, sw: 3, dh: 2, dw: 2, top: 2, left: 3, bottom: 2, right: 1 },
  { batch: 3, h: 6, w: 6, c: 5, fh: 2, fw: 2, sh: 2, sw: 2, dh: 1, dw: 1, top: 0, left: 0, bottom: 0, right: 0 },
  { batch: 1, h: 4, w: 4, c: 70, fh: 7, fw: 7, sh: 1, sw: 1, dh: 1, dw: 1, top: 3, left: 3, bottom: 3, right: 3 },
  { batch: 2, h: 10, w: 3, c: 2, fh: 1, fw: 3, sh: 1, sw: 1, dh: 1, dw: 3, top: 0, left: 4, bottom: 0, right: 4 },
];

describe('WebAssembly im2col / col2im', () => {
  let engine: WasmGemmEngine;
  beforeAll(async () => {
    engine = await createWasmGemmEngine({ threads: 1 });
  });
  afterAll(() => engine.dispose());

  it.each(GEOMETRIES)('im2col matches the definition %o', (spec) => {
    const g = geometry(spec);
    const random = rng(spec.h * 31 + spec.c);
    const x = Float32Array.from({ length: spec.batch * spec.h * spec.w * spec.c }, () => random() * 2 - 1);
    const expected = referenceIm2col(x, g);
    // Heap arrays (copied in and out) …
    const col = new Float32Array(expected.length).fill(Number.NaN);
    engine.im2col(x, g, col);
    expect(Array.from(col)).toEqual(Array.from(expected));
    // … and engine allocations (used in place).
    const xInside = engine.alloc(x.length);
    xInside.set(x);
    const colInside = engine.alloc(expected.length);
    colInside.fill(Number.NaN);
    engine.im2col(xInside, g, colInside);
    expect(Array.from(colInside)).toEqual(Array.from(expected));
    engine.free(xInside);
    engine.free(colInside);
  });

  it.each(GEOMETRIES)('col2im is the adjoint scatter-add %o', (spec) => {
    const g = geometry(spec);
    const random = rng(spec.w * 17 + spec.c);
    const rows = g.batchSize * g.outHeight * g.outWidth;
    const col = Float32Array.from({ length: rows * spec.fh * spec.fw * spec.c }, () => random() * 2 - 1);
    const expected = referenceCol2im(col, g);
    const dx = new Float32Array(expected.length).fill(123);
    engine.col2im(col, g, dx);
    for (let i = 0; i < expected.length; i++) expect(dx[i]).toBeCloseTo(expected[i]!, 5);
  });

  it('splits large im2col/col2im tasks across threads with the same result', async () => {
    const threaded = await createWasmGemmEngine({ threads: 2 });
    try {
      for (const spec of [
        { batch: 2, h: 41, w: 40, c: 16, fh: 3, fw: 3, sh: 1, sw: 1, dh: 1, dw: 1, top: 1, left: 1, bottom: 1, right: 1 },
        { batch: 1, h: 64, w: 48, c: 24, fh: 4, fw: 3, sh: 2, sw: 1, dh: 1, dw: 2, top: 1, left: 2, bottom: 2, right: 2 },
      ]) {
        const g = geometry(spec);
        const random = rng(spec.h);
        const x = Float32Array.from({ length: spec.batch * spec.h * spec.w * spec.c }, () => random() * 2 - 1);
        const expected = referenceIm2col(x, g);
        expect(expected.length).toBeGreaterThan(1 << 18); // large enough for the threaded path
        const col = new Float32Array(expected.length);
        threaded.im2col(x, g, col);
        // A plain loop: deep equality on arrays this large is slow in the matcher.
        let mismatches = 0;
        for (let i = 0; i < col.length; i++) if (col[i] !== expected[i]) mismatches++;
        expect(mismatches).toBe(0);
        const dx = new Float32Array(x.length);
        threaded.col2im(col, g, dx);
        const expectedDx = referenceCol2im(col, g);
        let maxDiff = 0;
        for (let i = 0; i < dx.length; i++) maxDiff = Math.max(maxDiff, Math.abs(dx[i]! - expectedDx[i]!));
        expect(maxDiff).toBeLessThan(1e-5);
      }
    } finally {
      threaded.dispose();
    }
  });

  it('rejects arrays too short and invalid geometry', () => {
    const g = geometry(GEOMETRIES[0]!);
    expect(() => engine.im2col(new Float32Array(24), g, new Float32Array(25 * 9))).toThrow(InvalidArgumentError);
    expect(() => engine.im2col(new Float32Array(25), g, new Float32Array(25 * 9 - 1))).toThrow(InvalidArgumentError);
    expect(() => engine.col2im(new Float32Array(25 * 9), { ...g, strideHeight: 0 }, new Float32Array(25))).toThrow(InvalidArgumentError);
  });
});
