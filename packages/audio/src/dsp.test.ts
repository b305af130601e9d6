import { describe, expect, it } from 'vitest';
import {
  applyFilterbank,
  dctII,
  hannWindow,
  hzToMel,
  melFilterbank,
  melToHz,
  mfcc,
  stftFrameCount,
  stftMagnitude,
  stftPower,
} from './dsp.js';

function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

/** Textbook DFT of Hann-windowed, centred, zero-padded frames. */
function naivePower(x: Float32Array, nFft: number, hop: number, win: number): number[][] {
  const frames = 1 + Math.floor(x.length / hop);
  const w = new Array<number>(nFft).fill(0);
  const off = Math.floor((nFft - win) / 2);
  for (let i = 0; i < win; i++) w[off + i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / win);
  const out: number[][] = [];
  for (let f = 0; f < frames; f++) {
    const row: number[] = [];
    for (let k = 0; k <= nFft / 2; k++) {
      let re = 0;
      let im = 0;
      for (let i = 0; i < nFft; i++) {
        const j = f * hop + i - Math.floor(nFft / 2);
        const v = j >= 0 && j < x.length ? x[j]! * w[i]! : 0;
        re += v * Math.cos((2 * Math.PI * k * i) / nFft);
        im -= v * Math.sin((2 * Math.PI * k * i) / nFft);
      }
      row.push(re * re + im * im);
    }
    out.push(row);
  }
  return out;
}

describe('STFT', () => {
  it('matches a textbook DFT for FFT and non-power-of-two sizes', () => {
    const x = noise(301, 1);
    for (const [nFft, hop, win] of [[64, 16, 64], [128, 32, 100], [60, 15, 60]] as const) {
      const spec = stftPower(x, { nFft, hopLength: hop, winLength: win });
      const ref = naivePower(x, nFft, hop, win);
      expect(spec.frames).toBe(ref.length);
      expect(spec.bins).toBe(Math.floor(nFft / 2) + 1);
      let maxErr = 0;
      let maxRef = 0;
      ref.forEach((row, f) => row.forEach((v, k) => {
        maxErr = Math.max(maxErr, Math.abs(spec.data[f * spec.bins + k]! - v));
        maxRef = Math.max(maxRef, v);
      }));
      expect(maxErr / maxRef).toBeLessThan(1e-5);
    }
  });

  it('puts a bin-centred sine at its bin with magnitude A·N/4', () => {
    const nFft = 256;
    const x = Float32Array.from({ length: 2048 }, (_, i) => 0.8 * Math.cos((2 * Math.PI * 20 * i) / nFft));
    const mag = stftMagnitude(x, { nFft });
    const f = 4; // an interior frame
    const row = Array.from(mag.data.subarray(f * mag.bins, (f + 1) * mag.bins));
    expect(row.indexOf(Math.max(...row))).toBe(20);
    expect(row[20]).toBeCloseTo((0.8 * nFft) / 4, 3);
    expect(row[23]! / row[20]!).toBeLessThan(1e-5); // Hann leakage is confined to ±1 bin
  });

  it('handles silence and clips shorter than a window', () => {
    expect(stftFrameCount(10, { nFft: 64, hopLength: 16 })).toBe(1);
    expect(stftFrameCount(10, { nFft: 64, center: false })).toBe(1);
    expect(stftFrameCount(100, { nFft: 64, hopLength: 16, center: false })).toBe(3);
    const short = stftPower(noise(10, 2), { nFft: 64 });
    expect(short.frames).toBe(1);
    expect(short.data.some((v) => v > 0)).toBe(true);
    expect(stftPower(new Float32Array(500), { nFft: 64 }).data.every((v) => v === 0)).toBe(true);
    expect(stftPower(new Float32Array(0), { nFft: 64 }).frames).toBe(1);
  });

  it('uses a periodic Hann window', () => {
    const w = hannWindow(8);
    expect(w[0]).toBe(0);
    expect(w[4]).toBeCloseTo(1, 7);
    expect(w.reduce((a, b) => a + b)).toBeCloseTo(4, 6);
  });
});

describe('mel', () => {
  it('converts Hz ↔ mel on both scales', () => {
    expect(hzToMel(1000)).toBeCloseTo(15, 10);
    expect(hzToMel(500)).toBeCloseTo(7.5, 10);
    expect(hzToMel(1000, 'htk')).toBeCloseTo(999.985, 2);
    for (const hz of [0, 60, 999, 1000, 1234, 4000, 22050]) {
      expect(melToHz(hzToMel(hz))).toBeCloseTo(hz, 6);
      expect(melToHz(hzToMel(hz, 'htk'), 'htk')).toBeCloseTo(hz, 6);
    }
  });

  it('builds triangles that tile the spectrum (partition of unity without norm)', () => {
    for (const scale of ['slaney', 'htk'] as const) {
      const fb = melFilterbank({ sampleRate: 8000, nFft: 1024, nMels: 20, scale, norm: 'none' });
      const firstCentre = melToHz((hzToMel(4000, scale) * 1) / 21, scale);
      const lastCentre = melToHz((hzToMel(4000, scale) * 20) / 21, scale);
      for (let k = 0; k < fb.bins; k++) {
        const hz = (k * 8000) / 1024;
        let sum = 0;
        for (let m = 0; m < fb.frames; m++) sum += fb.data[m * fb.bins + k]!;
        if (hz >= firstCentre && hz <= lastCentre) expect(sum).toBeCloseTo(1, 5);
        expect(sum).toBeLessThanOrEqual(1 + 1e-6);
      }
    }
  });

  it('gives every band unit area with Slaney normalisation, and no empty band at the 8 kHz defaults', () => {
    const fine = melFilterbank({ sampleRate: 8000, nFft: 8192, nMels: 40 });
    const binHz = 8000 / 8192;
    for (let m = 0; m < fine.frames; m++) {
      let area = 0;
      for (let k = 0; k < fine.bins; k++) area += fine.data[m * fine.bins + k]! * binHz;
      expect(area).toBeCloseTo(1, 2);
    }
    const coarse = melFilterbank({ sampleRate: 8000, nFft: 256, nMels: 40 });
    for (let m = 0; m < coarse.frames; m++) {
      expect(coarse.data.subarray(m * coarse.bins, (m + 1) * coarse.bins).some((v) => v > 0), `band ${m}`).toBe(true);
    }
  });

  it('applies a filterbank as a matrix product', () => {
    const spec = { frames: 2, bins: 3, data: Float32Array.of(1, 2, 3, 4, 5, 6) };
    const fb = { frames: 2, bins: 3, data: Float32Array.of(1, 0, 0, 0.5, 0.5, 1) };
    expect(Array.from(applyFilterbank(spec, fb).data)).toEqual([1, 4.5, 4, 10.5]);
  });
});

describe('cepstra', () => {
  it('orthonormal DCT-II preserves energy and maps a constant to c0 only', () => {
    const rows = { frames: 1, bins: 16, data: noise(16, 3) };
    const c = dctII(rows);
    const energy = (a: Float32Array): number => a.reduce((s, v) => s + v * v, 0);
    expect(energy(c.data)).toBeCloseTo(energy(rows.data), 5);
    const flat = dctII({ frames: 1, bins: 8, data: new Float32Array(8).fill(2) });
    expect(flat.data[0]).toBeCloseTo(2 * Math.sqrt(8), 5);
    for (let k = 1; k < 8; k++) expect(Math.abs(flat.data[k]!)).toBeLessThan(1e-6);
  });

  it('MFCC: a gain change moves only c0 (by 2·ln g·√nMels)', () => {
    const x = noise(4000, 4);
    const opts = { sampleRate: 8000, nFft: 256, hopLength: 64, nMels: 40, nMfcc: 13 };
    const a = mfcc(x, opts);
    const b = mfcc(x.map((v) => v * 3), opts);
    for (let f = 0; f < a.frames; f++) {
      expect(b.data[f * 13]! - a.data[f * 13]!).toBeCloseTo(2 * Math.log(3) * Math.sqrt(40), 3);
      for (let k = 1; k < 13; k++) expect(b.data[f * 13 + k]!).toBeCloseTo(a.data[f * 13 + k]!, 3);
    }
  });
});
