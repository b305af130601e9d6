/**
 * Objective speech-quality metrics on plain Float32Array signals of equal
 * length (frames are aligned by position: no time warping, so compare a
 * reconstruction with its own input, not two different recordings).
 *
 * - SI-SNR (dB): scale-invariant signal-to-noise ratio (Le Roux et al. 2019).
 * - LSD (dB): log-spectral distance.
 * - MCD (dB): mel-cepstral distortion on SPTK-style mel-cepstra (order 24, α 0.31 at 8 kHz).
 *
 * Floors: LSD and MCD take logs of powers, so empty bins need a floor. It is
 * set relative to the *reference*: `dynamicRangeDb` (default 80 dB) below
 * its loudest bin (never below an absolute 1e-10). An absolute floor alone
 * lets bins far below any real noise floor dominate — e.g. the few bins a
 * band-limited resampler empties above its cutoff would add tens of dB of
 * "distortion" to an otherwise transparent round trip.
 */
import { InvalidArgumentError } from '@vqkit/core';
import { stftPower, type Spectrogram, type StftOptions } from './dsp.js';

function checkPair(estimate: Float32Array, reference: Float32Array, what: string): void {
  if (estimate.length !== reference.length) {
    throw new InvalidArgumentError(
      `${what}: estimate has ${estimate.length} samples but reference has ${reference.length}; trim or pad them to the same length first`,
    );
  }
  if (reference.length === 0) throw new InvalidArgumentError(`${what}: signals are empty`);
}

/**
 * Scale-invariant SNR in dB. Both signals are made zero-mean; the estimate is
 * projected on the reference, s_t = (⟨ŝ, s⟩ / ‖s‖²)·s, e = ŝ − s_t, and
 * SI-SNR = 10·log10(‖s_t‖² / ‖e‖²). Invariant to rescaling the estimate.
 * @returns +Infinity for a perfect (possibly rescaled) estimate; NaN when the
 * reference is constant (silence), where the ratio is undefined.
 */
export function siSnr(estimate: Float32Array, reference: Float32Array): number {
  checkPair(estimate, reference, 'siSnr');
  const n = reference.length;
  let meanEst = 0;
  let meanRef = 0;
  for (let i = 0; i < n; i++) {
    meanEst += estimate[i]!;
    meanRef += reference[i]!;
  }
  meanEst /= n;
  meanRef /= n;
  let dot = 0;
  let refEnergy = 0;
  for (let i = 0; i < n; i++) {
    const r = reference[i]! - meanRef;
    dot += (estimate[i]! - meanEst) * r;
    refEnergy += r * r;
  }
  if (refEnergy === 0) return Number.NaN;
  const alpha = dot / refEnergy;
  let targetEnergy = 0;
  let errorEnergy = 0;
  for (let i = 0; i < n; i++) {
    const t = alpha * (reference[i]! - meanRef);
    const e = estimate[i]! - meanEst - t;
    targetEnergy += t * t;
    errorEnergy += e * e;
  }
  // Rounding leaves ~1e-16 relative residue for a perfect estimate: call that exact.
  if (errorEnergy <= 1e-20 * targetEnergy) return Number.POSITIVE_INFINITY;
  return 10 * Math.log10(targetEnergy / errorEnergy);
}

/** Options for {@link logSpectralDistance}. */
export interface LogSpectralDistanceOptions extends Partial<StftOptions> {
  /** nFft default 256 (32 ms at 8 kHz); hop nFft/4; Hann window. */
  nFft?: number;
  /** Floor powers at this many dB below the reference's loudest bin. Default 80. */
  dynamicRangeDb?: number;
  /**
   * Score only the reference's active frames: those whose energy is within this many dB of its
   * loudest frame (e.g. 30 leaves out pauses and silence). Default: every frame.
   */
  activeFramesDb?: number;
}

/**
 * Frames of a power spectrogram that are scored: all, or with `activeFramesDb`
 * those whose total power is within that many dB of the loudest frame's.
 */
export function activeFrameMask(power: Spectrogram, activeFramesDb: number | undefined): Uint8Array {
  const mask = new Uint8Array(power.frames).fill(1);
  if (activeFramesDb === undefined) return mask;
  if (!(activeFramesDb > 0)) throw new InvalidArgumentError(`activeFramesDb must be positive, got ${activeFramesDb}`);
  const energy = new Float64Array(power.frames);
  let max = 0;
  for (let f = 0; f < power.frames; f++) {
    for (let k = 0; k < power.bins; k++) energy[f]! += power.data[f * power.bins + k]!;
    max = Math.max(max, energy[f]!);
  }
  const threshold = max * 10 ** (-activeFramesDb / 10);
  for (let f = 0; f < power.frames; f++) mask[f] = max > 0 && energy[f]! >= threshold ? 1 : 0;
  return mask;
}

/** Absolute lower bound of the relative floors (−100 dB re full-scale power). */
const ABSOLUTE_POWER_FLOOR = 1e-10;

function relativeFloor(referencePowers: Float32Array, dynamicRangeDb: number, what: string): number {
  if (!(dynamicRangeDb > 0)) throw new InvalidArgumentError(`${what}: dynamicRangeDb must be positive, got ${dynamicRangeDb}`);
  let max = 0;
  for (const v of referencePowers) max = Math.max(max, v);
  return Math.max(ABSOLUTE_POWER_FLOOR, max * 10 ** (-dynamicRangeDb / 10));
}

/**
 * Log-spectral distance in dB:
 * LSD = mean over frames t of √( mean over bins k of (10·log10(P_ref[t,k] / P_est[t,k]))² ),
 * with P the STFT power floored (see the module comment). A gain g on the
 * estimate gives exactly |20·log10 g| where all bins are above the floor.
 */
export function logSpectralDistance(estimate: Float32Array, reference: Float32Array, options: LogSpectralDistanceOptions = {}): number {
  checkPair(estimate, reference, 'logSpectralDistance');
  const { dynamicRangeDb = 80, nFft = 256, activeFramesDb, ...stft } = options;
  const est = stftPower(estimate, { ...stft, nFft });
  const ref = stftPower(reference, { ...stft, nFft });
  const floor = relativeFloor(ref.data, dynamicRangeDb, 'logSpectralDistance');
  const mask = activeFrameMask(ref, activeFramesDb);
  let total = 0;
  let frames = 0;
  for (let f = 0; f < ref.frames; f++) {
    if (mask[f] === 0) continue;
    frames++;
    let sum = 0;
    for (let k = 0; k < ref.bins; k++) {
      const i = f * ref.bins + k;
      const d = 10 * Math.log10(Math.max(ref.data[i]!, floor) / Math.max(est.data[i]!, floor));
      sum += d * d;
    }
    total += Math.sqrt(sum / ref.bins);
  }
  return frames === 0 ? 0 : total / frames;
}

/** 10·√2 / ln 10: MCD = (10/ln 10)·√(2·Σ Δc²) = MCD_DB_FACTOR·‖Δc‖ (Kubichek 1993). */
export const MCD_DB_FACTOR = (10 * Math.SQRT2) / Math.LN10;

/**
 * MCD between two aligned cepstrograms (frames × coefficients, c_0 first):
 * mean over frames of MCD_DB_FACTOR·√(Σ_{k=1..K} (c_k − ĉ_k)²). c_0 (energy)
 * is excluded, so an overall gain does not count.
 */
export function mcdFromCepstra(estimate: Spectrogram, reference: Spectrogram, order: number, mask?: Uint8Array): number {
  if (estimate.frames !== reference.frames || estimate.bins !== reference.bins) {
    throw new InvalidArgumentError('mcd: cepstrograms differ in shape');
  }
  if (!Number.isInteger(order) || order < 1 || order >= reference.bins) {
    throw new InvalidArgumentError(`mcd: order must be in [1, ${reference.bins - 1}], got ${order}`);
  }
  let total = 0;
  let frames = 0;
  for (let f = 0; f < reference.frames; f++) {
    if (mask !== undefined && mask[f] === 0) continue;
    frames++;
    let sum = 0;
    for (let k = 1; k <= order; k++) {
      const d = estimate.data[f * reference.bins + k]! - reference.data[f * reference.bins + k]!;
      sum += d * d;
    }
    total += Math.sqrt(sum);
  }
  return frames === 0 ? 0 : (MCD_DB_FACTOR * total) / frames;
}

/**
 * All-pass constant α of the mel-cepstrum for a sample rate: the value that
 * best fits the mel scale: the least-squares fit (step 0.001) of the
 * all-pass phase response to Fant's mel scale over 0 … Nyquist, as pysptk's
 * `mcepalpha` (0.312 at 8 kHz, 0.41 at 16 kHz, 0.455 at 22.05 kHz).
 */
export function melCepstrumAlpha(sampleRate: number): number {
  if (!(sampleRate > 0)) throw new InvalidArgumentError(`melCepstrumAlpha: sampleRate must be positive, got ${sampleRate}`);
  let alpha = alphaCache.get(sampleRate);
  if (alpha === undefined) {
    alpha = fitMelCepstrumAlpha(sampleRate);
    alphaCache.set(sampleRate, alpha);
  }
  return alpha;
}

const alphaCache = new Map<number, number>();

function fitMelCepstrumAlpha(sampleRate: number): number {
  const points = 1000;
  // Fant's mel scale (as SPTK/pysptk), normalised to [0, π] over 0 … Nyquist.
  const mel = (f: number): number => Math.log1p(f / 1000);
  const melNyquist = mel(sampleRate / 2);
  const target = Float64Array.from({ length: points }, (_, i) => (Math.PI * mel((i / (points - 1)) * (sampleRate / 2))) / melNyquist);
  const warp = (alpha: number, w: number): number => w + 2 * Math.atan((alpha * Math.sin(w)) / (1 - alpha * Math.cos(w)));
  let best = 0;
  let bestError = Number.POSITIVE_INFINITY;
  for (let a = 0; a < 1; a += 0.001) {
    let error = 0;
    for (let i = 0; i < points; i++) error += (target[i]! - warp(a, (Math.PI * i) / (points - 1))) ** 2;
    if (error < bestError) {
      bestError = error;
      best = a;
    }
  }
  return Math.round(best * 1000) / 1000;
}

/**
 * Frequency warping of a cepstrum by the first-order all-pass z̃⁻¹ = (z⁻¹ − α)/(1 − αz⁻¹)
 * (SPTK's `freqt`): c [c_0 … c_M1] → warped [c̃_0 … c̃_order].
 */
export function freqt(c: ArrayLike<number>, order: number, alpha: number): Float64Array {
  const b = 1 - alpha * alpha;
  let g = new Float64Array(order + 1);
  let d = new Float64Array(order + 1);
  for (let i = c.length - 1; i >= 0; i--) {
    [d, g] = [g, d];
    g[0] = c[i]! + alpha * d[0]!;
    if (order >= 1) g[1] = b * d[0]! + alpha * d[1]!;
    for (let m = 2; m <= order; m++) g[m] = d[m - 1]! + alpha * (d[m]! - g[m - 1]!);
  }
  return g;
}

/** Options for {@link melCepstrum}. */
export interface MelCepstrumOptions {
  /** Cepstral order M: c̃_0 … c̃_M are returned. Default 24. */
  order?: number;
  /** All-pass constant α. Default {@link melCepstrumAlpha}(sampleRate) (0.31 at 8 kHz). */
  alpha?: number;
}

/**
 * Mel-cepstra of a power spectrogram (frames × (nFft/2 + 1), powers already
 * floored > 0), SPTK's definition: ln|H(e^{jω})| = Σ_m c̃_m e^{−jω̃m} on the
 * all-pass-warped frequency axis ω̃. Per frame: the real cepstrum of the
 * log power spectrum (= the cosine series of ln|H|, c_0 halved), then
 * {@link freqt} to order M (pysptk's `sp2mc`). Returns frames × (M + 1).
 */
export function melCepstrum(power: Spectrogram, sampleRate: number, options: MelCepstrumOptions = {}): Spectrogram {
  const { order = 24, alpha = melCepstrumAlpha(sampleRate) } = options;
  const nFft = 2 * (power.bins - 1);
  if (!Number.isInteger(order) || order < 1) throw new InvalidArgumentError(`melCepstrum: order must be a positive integer, got ${order}`);
  if (!(Math.abs(alpha) < 1)) throw new InvalidArgumentError(`melCepstrum: alpha must be in (−1, 1), got ${alpha}`);
  const half = power.bins - 1;
  // Cosine table of the inverse real DFT: c_n = (1/N)(L_0 + (−1)^n L_{N/2} + 2 Σ_{k=1}^{N/2−1} L_k cos(2πkn/N)).
  const cos = new Float64Array((half + 1) * (half + 1));
  for (let n = 0; n <= half; n++) for (let k = 0; k <= half; k++) cos[n * (half + 1) + k] = Math.cos((2 * Math.PI * ((k * n) % nFft)) / nFft);
  const out = new Float32Array(power.frames * (order + 1));
  const logPower = new Float64Array(half + 1);
  const cepstrum = new Float64Array(half + 1);
  for (let f = 0; f < power.frames; f++) {
    for (let k = 0; k <= half; k++) logPower[k] = Math.log(power.data[f * power.bins + k]!);
    for (let n = 0; n <= half; n++) {
      const row = n * (half + 1);
      let s = logPower[0]! + logPower[half]! * cos[row + half]!;
      for (let k = 1; k < half; k++) s += 2 * logPower[k]! * cos[row + k]!;
      cepstrum[n] = s / nFft;
    }
    // ln P = ĉ_0 + 2 Σ ĉ_n cos(nω) (+ the Nyquist term once) ⇒ ln|H| = ĉ_0/2 + Σ ĉ_n cos(nω): the one-sided series halves c_0 and c_{N/2}.
    cepstrum[0]! /= 2;
    cepstrum[half]! /= 2;
    out.set(freqt(cepstrum, order, alpha), f * (order + 1));
  }
  return { frames: power.frames, bins: order + 1, data: out };
}

/** Options for {@link melCepstralDistortion}. */
export interface MelCepstralDistortionOptions {
  /** Sample rate in Hz (sets the default all-pass constant). */
  sampleRate: number;
  /** Cepstral order M: coefficients c̃_1 … c̃_M are compared. Default 24. */
  order?: number;
  /** All-pass constant α. Default {@link melCepstrumAlpha}(sampleRate) (0.31 at 8 kHz). */
  alpha?: number;
  /** FFT size. Default 256 (32 ms at 8 kHz). */
  nFft?: number;
  /** Hop. Default nFft / 4. */
  hopLength?: number;
  /** Floor powers at this many dB below the reference's loudest bin. Default 80. */
  dynamicRangeDb?: number;
  /** Score only the reference's frames within this many dB of its loudest (see {@link activeFrameMask}). Default: every frame. */
  activeFramesDb?: number;
}

/**
 * Mel-cepstral distortion in dB, the standard definition (Kubichek 1993, as
 * used with SPTK mel-cepstra): MCD = (10/ln 10)·√(2·Σ_{m=1}^{M} (c̃_m − ĉ_m)²)
 * averaged over frames, c̃ the order-M mel-cepstra ({@link melCepstrum}) of
 * Hann-windowed STFT power spectra (floored as in the module comment). c̃_0
 * (log energy) is excluded, so an overall gain does not count.
 */
export function melCepstralDistortion(estimate: Float32Array, reference: Float32Array, options: MelCepstralDistortionOptions): number {
  checkPair(estimate, reference, 'melCepstralDistortion');
  const { sampleRate, order = 24, alpha, nFft = 256, hopLength = Math.floor(nFft / 4), dynamicRangeDb = 80, activeFramesDb } = options;
  const ref = stftPower(reference, { nFft, hopLength });
  const est = stftPower(estimate, { nFft, hopLength });
  const floor = relativeFloor(ref.data, dynamicRangeDb, 'melCepstralDistortion');
  const floored = (p: Spectrogram): Spectrogram => ({ ...p, data: p.data.map((v) => Math.max(v, floor)) });
  const cepstra = (p: Spectrogram): Spectrogram => melCepstrum(floored(p), sampleRate, { order, ...(alpha === undefined ? {} : { alpha }) });
  return mcdFromCepstra(cepstra(est), cepstra(ref), order, activeFrameMask(ref, activeFramesDb));
}

/** The three reconstruction metrics for one clip. */
export interface ReconstructionMetrics {
  /** Scale-invariant SNR, dB (higher is better). */
  siSnrDb: number;
  /** Log-spectral distance, dB (lower is better). */
  logSpectralDistanceDb: number;
  /** Mel-cepstral distortion, dB (lower is better). */
  melCepstralDistortionDb: number;
}

/**
 * SI-SNR, LSD and MCD of a reconstruction against its input, with the
 * defaults above (nFft = the power of two nearest 32 ms, hop nFft/4);
 * `activeFramesDb` restricts LSD and MCD to the reference's active frames.
 */
export function reconstructionMetrics(estimate: Float32Array, reference: Float32Array, sampleRate: number, options: { activeFramesDb?: number } = {}): ReconstructionMetrics {
  const nFft = 2 ** Math.round(Math.log2(0.032 * sampleRate));
  const { activeFramesDb } = options;
  return {
    siSnrDb: siSnr(estimate, reference),
    logSpectralDistanceDb: logSpectralDistance(estimate, reference, { nFft, activeFramesDb }),
    melCepstralDistortionDb: melCepstralDistortion(estimate, reference, { sampleRate, nFft, activeFramesDb }),
  };
}
