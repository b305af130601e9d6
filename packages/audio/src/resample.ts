/**
 * Band-limited sample-rate conversion: a Kaiser-windowed-sinc polyphase
 * resampler for rational rate ratios (8 ↔ 16 ↔ 22.05 ↔ 24 ↔ 44.1 ↔ 48 kHz and
 * anything else with integer rates).
 *
 * Why our own: the npm options are either non-band-limited (linear/cubic
 * interpolation aliases), async WebAssembly (libsamplerate builds), or
 * unmaintained; the algorithm is short and the tests below pin it down.
 *
 * Design: output sample j sits at input time t = j·inRate/outRate, so the
 * first samples line up and there is no delay (zero-phase). Its value is
 * Σ_i x[i]·h(i − t) with h(u) = fc·sinc(fc·u)·kaiser(u / halfWidth), where fc is
 * the cutoff as a fraction of the input Nyquist, fc = rolloff·min(1, out/in),
 * and halfWidth = zeroCrossings / fc input samples. With L/M = out/in in
 * lowest terms, t's fractional part takes only L values, so the L kernels are
 * tabulated once (the polyphase table). Each phase is normalised to unit DC
 * gain so a constant stays exactly constant. Samples outside the signal are
 * zero.
 *
 * Defaults (rolloff 0.9, 32 zero crossings, β = 8.6): Kaiser's formula gives
 * ≈ 86 dB stopband and a transition band of ≈ ±8.6 % of the cutoff, i.e.
 * flat (< 0.01 dB) to ≈ 0.82 × the lower Nyquist and ≥ 80 dB down from
 * ≈ 0.98 × the lower Nyquist.
 */
import { InvalidArgumentError } from '@vqkit/core';

/** Filter design options for {@link Resampler}. */
export interface ResampleOptions {
  /** Cutoff (−6 dB point) as a fraction of the lower of the two Nyquist frequencies. Default 0.9. */
  rolloff?: number;
  /** Sinc zero crossings on each side of the kernel centre; longer = sharper transition, slower. Default 32. */
  zeroCrossings?: number;
  /** Kaiser window β; larger = deeper stopband, wider transition. Default 8.6 (≈ 86 dB). */
  kaiserBeta?: number;
}

/** Tabulating more phases than this would cost more memory than it saves time. */
const MAX_TABLE_PHASES = 4096;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0 (power series; converges fast for β ≤ 30). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function checkRate(name: string, rate: number): void {
  if (!Number.isInteger(rate) || rate < 1) {
    throw new InvalidArgumentError(`resample: ${name} must be a positive integer number of Hz, got ${rate}`);
  }
}

/** A resampler for one (inRate, outRate) pair; reuse it, the filter table is built once. */
export class Resampler {
  /** Input sample rate in Hz. */
  readonly inRate: number;
  /** Output sample rate in Hz. */
  readonly outRate: number;
  /** Upsampling factor L (outRate / gcd). */
  readonly up: number;
  /** Downsampling factor M (inRate / gcd). */
  readonly down: number;
  /** Kernel taps per output sample. */
  readonly taps: number;
  private readonly cutoff: number;
  private readonly halfWidth: number;
  private readonly beta: number;
  private readonly i0Beta: number;
  /** L × taps kernels, or null when L is too large to tabulate. */
  private readonly table: Float32Array | null;

  constructor(inRate: number, outRate: number, options: ResampleOptions = {}) {
    checkRate('inRate', inRate);
    checkRate('outRate', outRate);
    const { rolloff = 0.9, zeroCrossings = 32, kaiserBeta = 8.6 } = options;
    if (!(rolloff > 0 && rolloff <= 1)) throw new InvalidArgumentError(`resample: rolloff must be in (0, 1], got ${rolloff}`);
    if (!(Number.isInteger(zeroCrossings) && zeroCrossings >= 1)) {
      throw new InvalidArgumentError(`resample: zeroCrossings must be a positive integer, got ${zeroCrossings}`);
    }
    if (!(kaiserBeta >= 0)) throw new InvalidArgumentError(`resample: kaiserBeta must be ≥ 0, got ${kaiserBeta}`);
    this.inRate = inRate;
    this.outRate = outRate;
    const g = gcd(inRate, outRate);
    this.up = outRate / g;
    this.down = inRate / g;
    this.cutoff = rolloff * Math.min(1, this.up / this.down);
    this.halfWidth = zeroCrossings / this.cutoff;
    this.beta = kaiserBeta;
    this.i0Beta = besselI0(kaiserBeta);
    this.taps = 2 * Math.ceil(this.halfWidth);
    if (this.up <= MAX_TABLE_PHASES) {
      this.table = new Float32Array(this.up * this.taps);
      for (let p = 0; p < this.up; p++) this.fillKernel(p / this.up, this.table.subarray(p * this.taps, (p + 1) * this.taps));
    } else {
      this.table = null;
    }
  }

  /** Output length for n input samples: round(n · outRate / inRate). */
  outputLength(n: number): number {
    return Math.round((n * this.up) / this.down);
  }

  /**
   * Kernel for output time t = base + frac: tap k (0-based) weights input
   * sample base − taps/2 + 1 + k.
   */
  private fillKernel(frac: number, out: Float32Array): void {
    const half = this.taps / 2;
    let sum = 0;
    for (let k = 0; k < this.taps; k++) {
      const u = k - half + 1 - frac;
      const r = u / this.halfWidth;
      let h = 0;
      if (Math.abs(r) < 1) {
        const a = Math.PI * this.cutoff * u;
        const sinc = a === 0 ? 1 : Math.sin(a) / a;
        h = this.cutoff * sinc * (besselI0(this.beta * Math.sqrt(1 - r * r)) / this.i0Beta);
      }
      out[k] = h;
      sum += h;
    }
    for (let k = 0; k < this.taps; k++) out[k]! /= sum;
  }

  /** Resamples one channel. Returns a new array (a copy when the rates are equal). */
  process(input: Float32Array): Float32Array {
    const n = input.length;
    if (this.up === this.down) return input.slice();
    const nOut = this.outputLength(n);
    const output = new Float32Array(nOut);
    const { up, down, taps } = this;
    const half = taps / 2;
    const scratch = this.table === null ? new Float32Array(taps) : null;
    for (let j = 0; j < nOut; j++) {
      const num = j * down;
      const base = Math.floor(num / up);
      const phase = num - base * up;
      let kernel: Float32Array;
      let offset: number;
      if (this.table !== null) {
        kernel = this.table;
        offset = phase * taps;
      } else {
        this.fillKernel(phase / up, scratch!);
        kernel = scratch!;
        offset = 0;
      }
      const start = base - half + 1;
      let acc = 0;
      if (start >= 0 && start + taps <= n) {
        for (let k = 0; k < taps; k++) acc += kernel[offset + k]! * input[start + k]!;
      } else {
        const kFrom = Math.max(0, -start);
        const kTo = Math.min(taps, n - start);
        for (let k = kFrom; k < kTo; k++) acc += kernel[offset + k]! * input[start + k]!;
      }
      output[j] = acc;
    }
    return output;
  }
}

const cache = new Map<string, Resampler>();

/**
 * Resamples one channel from inRate to outRate (band-limited; see the module
 * comment for the filter). Resamplers are cached per rate pair and options.
 * @returns a new array of length round(n · outRate / inRate).
 */
export function resample(input: Float32Array, inRate: number, outRate: number, options: ResampleOptions = {}): Float32Array {
  const key = `${inRate}/${outRate}/${options.rolloff ?? ''}/${options.zeroCrossings ?? ''}/${options.kaiserBeta ?? ''}`;
  let resampler = cache.get(key);
  if (resampler === undefined) {
    resampler = new Resampler(inRate, outRate, options);
    if (cache.size >= 64) cache.clear();
    cache.set(key, resampler);
  }
  return resampler.process(input);
}
