/**
 * Objective speech-quality metrics on plain Float32Array signals of equal
 * length (frames are aligned by position: no time warping, so compare a
 * reconstruction with its own input, not two different recordings).
 *
 * - SI-SNR (dB): scale-invariant signal-to-noise ratio (Le Roux et al. 2019).
 * - LSD (dB): log-spectral distance.
 * - MCD (dB): mel-cepstral distortion, MFCC-based.
 *
 * Floors: LSD and MCD take logs of powers, so empty bins need a floor. It is
 * set relative to the *reference*: `dynamicRangeDb` (default 80 dB) below
 * its loudest bin (never below an absolute 1e-10). An absolute floor alone
 * lets bins far below any real noise floor dominate — e.g. the few bins a
 * band-limited resampler empties above its cutoff would add tens of dB of
 * "distortion" to an otherwise transparent round trip.
 */
import { InvalidArgumentError } from '@vqkit/core';
import { applyFilterbank, dctII, melFilterbank, stftPower, type Spectrogram, type StftOptions } from './dsp.js';

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
  const { dynamicRangeDb = 80, nFft = 256, ...stft } = options;
  const est = stftPower(estimate, { ...stft, nFft });
  const ref = stftPower(reference, { ...stft, nFft });
  const floor = relativeFloor(ref.data, dynamicRangeDb, 'logSpectralDistance');
  let total = 0;
  for (let f = 0; f < ref.frames; f++) {
    let sum = 0;
    for (let k = 0; k < ref.bins; k++) {
      const i = f * ref.bins + k;
      const d = 10 * Math.log10(Math.max(ref.data[i]!, floor) / Math.max(est.data[i]!, floor));
      sum += d * d;
    }
    total += Math.sqrt(sum / ref.bins);
  }
  return total / ref.frames;
}

/** 10·√2 / ln 10: converts natural-log cepstral distance to dB (Kubichek 1993). */
export const MCD_DB_FACTOR = (10 * Math.SQRT2) / Math.LN10;

/**
 * MCD between two aligned cepstrograms (frames × coefficients, c_0 first):
 * mean over frames of MCD_DB_FACTOR·√(Σ_{k=1..K} (c_k − ĉ_k)²). c_0 (energy)
 * is excluded, so an overall gain does not count.
 */
export function mcdFromCepstra(estimate: Spectrogram, reference: Spectrogram, order: number): number {
  if (estimate.frames !== reference.frames || estimate.bins !== reference.bins) {
    throw new InvalidArgumentError('mcd: cepstrograms differ in shape');
  }
  if (!Number.isInteger(order) || order < 1 || order >= reference.bins) {
    throw new InvalidArgumentError(`mcd: order must be in [1, ${reference.bins - 1}], got ${order}`);
  }
  let total = 0;
  for (let f = 0; f < reference.frames; f++) {
    let sum = 0;
    for (let k = 1; k <= order; k++) {
      const d = estimate.data[f * reference.bins + k]! - reference.data[f * reference.bins + k]!;
      sum += d * d;
    }
    total += Math.sqrt(sum);
  }
  return (MCD_DB_FACTOR * total) / reference.frames;
}

/** Options for {@link melCepstralDistortion}. */
export interface MelCepstralDistortionOptions {
  /** Sample rate in Hz (for the mel filterbank). */
  sampleRate: number;
  /** Cepstral order K: coefficients c_1 … c_K are compared. Default 13. */
  order?: number;
  /** FFT size. Default 256 (32 ms at 8 kHz). */
  nFft?: number;
  /** Hop. Default nFft / 4. */
  hopLength?: number;
  /** Mel bands. Default 40. */
  nMels?: number;
  /** Floor mel powers at this many dB below the reference's loudest mel bin. Default 80. */
  dynamicRangeDb?: number;
}

/**
 * Mel-cepstral distortion in dB, using MFCCs (orthonormal DCT-II of the
 * natural-log Slaney mel power spectrum, floored as in the module comment;
 * the same coefficients as {@link mfcc} up to the floor) as the mel cepstrum — the common
 * approximation of SPTK mel-cepstra, so absolute values are comparable
 * between runs of this function, not with papers using SPTK.
 */
export function melCepstralDistortion(estimate: Float32Array, reference: Float32Array, options: MelCepstralDistortionOptions): number {
  checkPair(estimate, reference, 'melCepstralDistortion');
  const { sampleRate, order = 13, nFft = 256, hopLength = Math.floor(nFft / 4), nMels = 40, dynamicRangeDb = 80 } = options;
  const filterbank = melFilterbank({ sampleRate, nFft, nMels });
  const refMel = applyFilterbank(stftPower(reference, { nFft, hopLength }), filterbank);
  const estMel = applyFilterbank(stftPower(estimate, { nFft, hopLength }), filterbank);
  const floor = relativeFloor(refMel.data, dynamicRangeDb, 'melCepstralDistortion');
  const cepstra = (mel: Spectrogram): Spectrogram => dctII({ ...mel, data: mel.data.map((v) => Math.log(Math.max(v, floor))) }, order + 1);
  return mcdFromCepstra(cepstra(estMel), cepstra(refMel), order);
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
 * defaults above (nFft = the power of two nearest 32 ms, hop nFft/4).
 */
export function reconstructionMetrics(estimate: Float32Array, reference: Float32Array, sampleRate: number): ReconstructionMetrics {
  const nFft = 2 ** Math.round(Math.log2(0.032 * sampleRate));
  return {
    siSnrDb: siSnr(estimate, reference),
    logSpectralDistanceDb: logSpectralDistance(estimate, reference, { nFft }),
    melCepstralDistortionDb: melCepstralDistortion(estimate, reference, { sampleRate, nFft }),
  };
}
