import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@vqkit/core';
import { stftPower } from './dsp.js';
import { MCD_DB_FACTOR, activeFrameMask, freqt, logSpectralDistance, mcdFromCepstra, melCepstralDistortion, melCepstrum, melCepstrumAlpha, reconstructionMetrics, siSnr } from './metrics.js';

function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

function speechLike(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => {
    let v = 0;
    for (let h = 1; h <= 10; h++) v += Math.sin((2 * Math.PI * 130 * h * i) / 8000 + h) / h;
    return 0.3 * v * (0.6 + 0.4 * Math.sin((2 * Math.PI * 3 * i) / 8000));
  });
}

const energy = (x: ArrayLike<number>): number => Array.from(x).reduce((s, v) => s + v * v, 0);
const mean = (x: ArrayLike<number>): number => Array.from(x).reduce((s, v) => s + v, 0) / x.length;

/** Noise that is zero-mean, exactly orthogonal to the (zero-mean) signal, at exactly `snrDb` below it. */
function orthogonalNoise(signal: Float32Array, snrDb: number, seed: number): Float64Array {
  const signalMean = mean(signal);
  const s = Float64Array.from(signal, (v) => v - signalMean);
  const n = Float64Array.from(noise(signal.length, seed));
  const nMean = mean(n);
  for (let i = 0; i < n.length; i++) n[i]! -= nMean;
  const proj = n.reduce((acc, v, i) => acc + v * s[i]!, 0) / energy(s);
  for (let i = 0; i < n.length; i++) n[i]! -= proj * s[i]!;
  const scale = Math.sqrt(energy(s) / energy(n) / 10 ** (snrDb / 10));
  return n.map((v) => v * scale);
}

describe('siSnr', () => {
  const s = speechLike(4000);

  it('is +∞ for identical signals, float32-rounding-limited for rescaled ones, NaN for a silent reference', () => {
    expect(siSnr(s, s)).toBe(Number.POSITIVE_INFINITY);
    expect(siSnr(s.map((v) => -0.3 * v), s)).toBeGreaterThan(140);
    expect(siSnr(s, new Float32Array(s.length))).toBeNaN();
  });

  it('recovers a known SNR to within 0.1 dB', () => {
    for (const snr of [-5, 0, 10, 20, 40]) {
      const n = orthogonalNoise(s, snr, snr + 100);
      const est = Float32Array.from(s, (v, i) => v + n[i]!);
      expect(Math.abs(siSnr(est, s) - snr), `${snr} dB`).toBeLessThan(0.1);
    }
  });

  it('measures independent white noise at its nominal SNR within 0.1 dB', () => {
    const long = speechLike(48000);
    const longMean = mean(long);
    const power = energy(long.map((v) => v - longMean)) / long.length;
    const white = noise(48000, 77); // uniform in ±½: variance 1/12
    for (const snr of [0, 10, 25]) {
      const gain = Math.sqrt((power / 10 ** (snr / 10)) * 12);
      const est = long.map((v, i) => v + gain * white[i]!);
      expect(Math.abs(siSnr(est, long) - snr), `${snr} dB`).toBeLessThan(0.1);
    }
  });

  it('ignores the estimate’s scale and both signals’ DC offsets', () => {
    const n = orthogonalNoise(s, 12, 5);
    const est = Float32Array.from(s, (v, i) => v + n[i]!);
    const base = siSnr(est, s);
    expect(siSnr(est.map((v) => 7 * v), s)).toBeCloseTo(base, 4);
    expect(siSnr(est.map((v) => 0.01 * v + 0.2), s.map((v) => v - 0.1))).toBeCloseTo(base, 3);
  });

  it('rejects length mismatches', () => {
    expect(() => siSnr(s, s.subarray(1))).toThrow(InvalidArgumentError);
  });
});

describe('logSpectralDistance', () => {
  const x = noise(4000, 1);

  it('is 0 for identical signals and for two silences', () => {
    expect(logSpectralDistance(x, x)).toBe(0);
    expect(logSpectralDistance(new Float32Array(800), new Float32Array(800))).toBe(0);
  });

  it('is |20·log10 g| for a gain g', () => {
    for (const g of [2, 0.1, 1.5]) {
      expect(logSpectralDistance(x.map((v) => g * v), x)).toBeCloseTo(Math.abs(20 * Math.log10(g)), 3);
    }
  });

  it('grows with added noise', () => {
    const s = speechLike(4000);
    const values = [0.001, 0.01, 0.1].map((level) => logSpectralDistance(s.map((v, i) => v + level * x[i]!), s));
    expect(values[0]!).toBeGreaterThan(0);
    expect(values[1]!).toBeGreaterThan(values[0]!);
    expect(values[2]!).toBeGreaterThan(values[1]!);
    // Not exactly symmetric: the floor is relative to the reference's loudest bin.
    const est = s.map((v, i) => v + 0.01 * x[i]!);
    expect(logSpectralDistance(est, s)).toBeCloseTo(logSpectralDistance(s, est), 1);
  });
});

describe('mel-cepstral distortion', () => {
  it('applies 10√2/ln10 to the Euclidean distance of c_1..c_K, averaged over frames', () => {
    const ref = { frames: 2, bins: 4, data: new Float32Array(8) };
    const est = { frames: 2, bins: 4, data: Float32Array.of(5, 1, 0, 0, 9, 3, 4, 0) };
    // Frame 0: c_0 ignored, |Δ| = 1; frame 1: |(3, 4)| = 5 → mean 3.
    expect(mcdFromCepstra(est, ref, 3)).toBeCloseTo(3 * MCD_DB_FACTOR, 5);
    expect(MCD_DB_FACTOR).toBeCloseTo(6.14185, 4);
    expect(mcdFromCepstra(est, ref, 1)).toBeCloseTo(2 * MCD_DB_FACTOR, 5);
  });

  it('recovers the cepstrum of a known log spectrum (α = 0) and warps it like SPTK freqt', () => {
    // ln|H(ω)| = 0.3 + 0.5 cos ω − 0.2 cos 2ω + 0.05 cos 3ω  ⇒  P = |H|² on 129 bins.
    const bins = 129;
    const coeffs = [0.3, 0.5, -0.2, 0.05];
    const logH = (w: number): number => coeffs.reduce((s, c, m) => s + c * Math.cos(m * w), 0);
    const power = { frames: 1, bins, data: Float32Array.from({ length: bins }, (_, k) => Math.exp(2 * logH((Math.PI * k) / (bins - 1)))) };
    const c = melCepstrum(power, 8000, { order: 5, alpha: 0 });
    [0.3, 0.5, -0.2, 0.05, 0, 0].forEach((v, m) => expect(c.data[m]!).toBeCloseTo(v, 5));
    // Warping then un-warping (−α) returns the cepstrum; a pure c_0 is not changed by warping.
    const warped = freqt([0.3, 0.5, -0.2, 0.05], 40, 0.31);
    const back = freqt(warped, 3, -0.31);
    [0.3, 0.5, -0.2, 0.05].forEach((v, m) => expect(back[m]!).toBeCloseTo(v, 4));
    expect(Array.from(freqt([0.7], 3, 0.31))).toEqual([0.7, 0, 0, 0]);
    // Hand-computed first step of the recursion: c̃_1 = (1 − α²)·c_1 for a cepstrum of order 1.
    expect(freqt([0, 0.5], 1, 0.31)[1]).toBeCloseTo((1 - 0.31 ** 2) * 0.5, 12);
    expect(melCepstrumAlpha(8000)).toBe(0.312);
    expect(melCepstrumAlpha(16000)).toBe(0.41);
  });

  it('matches the hand-computed MCD of a first-order filter (α = 0): c_m = (−1)^{m+1} b^m / m', () => {
    // y[n] = x[n] + b·x[n−1] has ln|H| = Σ_m (−1)^{m+1} (b^m/m) cos mω, so on white noise
    // MCD = (10/ln 10)·√(2 Σ_{m=1}^{24} b^{2m}/m²) = 3.1775 dB for b = ½.
    const x = noise(16000, 21);
    const b = 0.5;
    const y = x.map((v, i) => v + b * (i > 0 ? x[i - 1]! : 0));
    let sum = 0;
    for (let m = 1; m <= 24; m++) sum += b ** (2 * m) / (m * m);
    const expected = (10 / Math.LN10) * Math.sqrt(2 * sum);
    expect(expected).toBeCloseTo(3.1775, 3);
    // Each frame's periodogram ratio is |H|² up to windowing of a 256-sample frame.
    expect(melCepstralDistortion(y, x, { sampleRate: 8000, alpha: 0 })).toBeCloseTo(expected, 1);
  });

  it('is 0 for identical signals, ~0 under a gain change, and grows with noise', () => {
    // Background noise keeps every STFT bin above the power floor (80 dB under the loudest), as in real recordings.
    const background = noise(4000, 11);
    const s = speechLike(4000).map((v, i) => v + 0.03 * background[i]!);
    const opts = { sampleRate: 8000 };
    expect(melCepstralDistortion(s, s, opts)).toBe(0);
    // A gain only moves c̃_0; with the default 80 dB floor, the few deep periodogram dips it pushes under the floor leave a trace.
    expect(melCepstralDistortion(s.map((v) => 0.25 * v), s, { ...opts, dynamicRangeDb: 200 })).toBeLessThan(1e-4);
    expect(melCepstralDistortion(s.map((v) => 0.5 * v), s, opts)).toBeLessThan(0.1);
    const n = noise(4000, 3);
    const values = [0.003, 0.03, 0.3].map((level) => melCepstralDistortion(s.map((v, i) => v + level * n[i]!), s, opts));
    expect(values[0]!).toBeGreaterThan(0);
    expect(values[1]!).toBeGreaterThan(values[0]!);
    expect(values[2]!).toBeGreaterThan(values[1]!);
  });
});

describe('active-frame scoring', () => {
  it('leaves out the reference’s quiet frames from LSD and MCD when asked', () => {
    // Speech-like first half, near-silence (−60 dB noise) second half; the estimate is exact where the
    // reference is active and loud noise where it is quiet.
    const n = 8000;
    const s = speechLike(n);
    const quiet = noise(n, 31);
    const loud = noise(n, 32);
    const ref = s.map((v, i) => (i < n / 2 ? v : 0.001 * quiet[i]!));
    const est = ref.map((v, i) => (i < n / 2 ? v : 0.3 * loud[i]!));
    const power = stftPower(ref, { nFft: 256, hopLength: 64 });
    const mask = activeFrameMask(power, 30);
    const active = mask.reduce((a, b) => a + b, 0);
    // 1 + 8000/64 = 126 frames; the first ~62 (plus the window overlap) are active.
    expect(active).toBeGreaterThan(60);
    expect(active).toBeLessThan(68);
    expect(logSpectralDistance(est, ref)).toBeGreaterThan(10);
    expect(melCepstralDistortion(est, ref, { sampleRate: 8000 })).toBeGreaterThan(1);
    // Only frames overlapping the junction differ among the active ones.
    expect(logSpectralDistance(est, ref, { activeFramesDb: 30 })).toBeLessThan(0.2 * logSpectralDistance(est, ref));
    expect(melCepstralDistortion(est, ref, { sampleRate: 8000, activeFramesDb: 30 })).toBeLessThan(0.2 * melCepstralDistortion(est, ref, { sampleRate: 8000 }));
    const m = reconstructionMetrics(est, ref, 8000, { activeFramesDb: 30 });
    expect(m.logSpectralDistanceDb).toBeCloseTo(logSpectralDistance(est, ref, { activeFramesDb: 30 }), 9);
    expect(Array.from(activeFrameMask(power, undefined))).toEqual(new Array(power.frames).fill(1));
  });
});

describe('reconstructionMetrics', () => {
  it('bundles the three metrics with 32 ms frames', () => {
    const background = noise(8000, 12);
    const s = speechLike(8000).map((v, i) => v + 0.01 * background[i]!);
    const n = orthogonalNoise(s, 15, 13);
    const est = Float32Array.from(s, (v, i) => v + n[i]!);
    const m = reconstructionMetrics(est, s, 16000);
    expect(m.siSnrDb).toBeCloseTo(15, 1);
    expect(m.logSpectralDistanceDb).toBeCloseTo(logSpectralDistance(est, s, { nFft: 512 }), 9);
    expect(m.melCepstralDistortionDb).toBeCloseTo(melCepstralDistortion(est, s, { sampleRate: 16000, nFft: 512 }), 9);
  });
});
