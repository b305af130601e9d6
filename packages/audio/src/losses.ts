/**
 * Reconstruction losses for audio tokenizers, as differentiable tfjs
 * functions of (prediction, target) signals shaped [T] or [batch, T]:
 *
 * - time-domain L1;
 * - multi-resolution STFT loss (Parallel WaveGAN, Yamamoto et al. 2020):
 *   per resolution, spectral convergence ‖|Y| − |Ŷ|‖_F / ‖|Y|‖_F plus
 *   log-magnitude L1 mean |ln|Y| − ln|Ŷ||, averaged over resolutions;
 * - mel L1 loss on the natural-log mel spectrogram (HiFi-GAN / EnCodec style).
 *
 * Every function returns a scalar and keeps its intermediates inside tf.tidy.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@vqkit/core';
import type { MelOptions } from './dsp.js';
import { melFromSpectrogramTf, stftMagnitudeTf } from './dsp-tf.js';

/** One STFT resolution. */
export interface StftResolution {
  /** FFT size. */
  nFft: number;
  /** Hop between frames. */
  hopLength: number;
  /** Hann window length (≤ nFft). */
  winLength: number;
}

/**
 * Default resolutions for 8 kHz speech: windows of 8, 16 and 32 ms with 75 %
 * overlap — the Parallel WaveGAN set ((512,128,…), (1024,256,…), (2048,512,…)
 * at 24 kHz) scaled to a third of the rate and rounded to powers of two, so
 * the finest catches transients and the coarsest resolves pitch harmonics.
 */
export const DEFAULT_STFT_RESOLUTIONS: readonly StftResolution[] = [
  { nFft: 64, hopLength: 16, winLength: 64 },
  { nFft: 128, hopLength: 32, winLength: 128 },
  { nFft: 256, hopLength: 64, winLength: 256 },
];

function checkPair(prediction: tf.Tensor, target: tf.Tensor, what: string): void {
  if (prediction.rank < 1 || prediction.rank > 2 || !tf.util.arraysEqual(prediction.shape, target.shape)) {
    throw new InvalidArgumentError(
      `${what}: prediction and target must both be [T] or [batch, T] with equal shapes, got [${prediction.shape.join(', ')}] and [${target.shape.join(', ')}]`,
    );
  }
}

/** Mean absolute difference of the waveforms. */
export function l1Loss(prediction: tf.Tensor, target: tf.Tensor): tf.Scalar {
  checkPair(prediction, target, 'l1Loss');
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(prediction, target))) as tf.Scalar);
}

/** The two terms of the STFT loss at one resolution. */
export interface StftLossTerms {
  /** Spectral convergence, averaged over the batch. */
  spectralConvergence: tf.Scalar;
  /** Mean absolute log-magnitude difference. */
  logMagnitude: tf.Scalar;
}

/**
 * STFT loss terms at one resolution. Spectral convergence is computed per
 * example and averaged, so a quiet example in the batch counts as much as a
 * loud one. Magnitudes are √(power + 1e-7) (see stftMagnitudeTf), which
 * also keeps ln and the denominator finite for silence.
 */
export function stftLossTerms(prediction: tf.Tensor, target: tf.Tensor, resolution: StftResolution): StftLossTerms {
  checkPair(prediction, target, 'stftLoss');
  return tf.tidy(() => {
    const predMag = stftMagnitudeTf(prediction, resolution);
    const targetMag = stftMagnitudeTf(target, resolution);
    const diffNorm = tf.sqrt(tf.sum(tf.square(tf.sub(targetMag, predMag)), [1, 2]));
    const targetNorm = tf.sqrt(tf.sum(tf.square(targetMag), [1, 2]));
    const spectralConvergence = tf.mean(tf.div(diffNorm, targetNorm)) as tf.Scalar;
    const logMagnitude = tf.mean(tf.abs(tf.sub(tf.log(targetMag), tf.log(predMag)))) as tf.Scalar;
    return { spectralConvergence, logMagnitude };
  });
}

/** Options for {@link multiResolutionStftLoss}. */
export interface MultiResolutionStftLossOptions {
  /** STFT resolutions. Default {@link DEFAULT_STFT_RESOLUTIONS} (tuned for 8 kHz). */
  resolutions?: readonly StftResolution[];
  /** Weight of spectral convergence. Default 1. */
  spectralConvergenceWeight?: number;
  /** Weight of log-magnitude L1. Default 1. */
  logMagnitudeWeight?: number;
}

/** Σ_r (w_sc·SC_r + w_mag·LogMag_r) / R over the resolutions. */
export function multiResolutionStftLoss(
  prediction: tf.Tensor,
  target: tf.Tensor,
  options: MultiResolutionStftLossOptions = {},
): tf.Scalar {
  const { resolutions = DEFAULT_STFT_RESOLUTIONS, spectralConvergenceWeight = 1, logMagnitudeWeight = 1 } = options;
  if (resolutions.length === 0) throw new InvalidArgumentError('multiResolutionStftLoss: need at least one resolution');
  return tf.tidy(() => {
    let total: tf.Tensor = tf.scalar(0);
    for (const resolution of resolutions) {
      const { spectralConvergence, logMagnitude } = stftLossTerms(prediction, target, resolution);
      total = tf.add(total, tf.add(tf.mul(spectralConvergence, spectralConvergenceWeight), tf.mul(logMagnitude, logMagnitudeWeight)));
    }
    return tf.div(total, resolutions.length) as tf.Scalar;
  });
}

/** Options for {@link melLoss}: STFT framing plus the mel filterbank. */
export interface MelLossOptions extends Omit<MelOptions, 'nFft'> {
  /** FFT size. Default 256 (32 ms at 8 kHz). */
  nFft?: number;
  /** Hop. Default nFft / 4. */
  hopLength?: number;
  /** Window length. Default nFft. */
  winLength?: number;
  /** Added to mel energies before ln, so silence is finite (ln 1e-5 ≈ −11.5). Default 1e-5. */
  epsilon?: number;
}

/**
 * Mean |ln(mel(|Y|) + ε) − ln(mel(|Ŷ|) + ε)| — L1 on log-mel
 * magnitude spectrograms. Defaults (nFft 256, 40 Slaney mel bands up to
 * Nyquist) suit 8 kHz; pass sampleRate and adjust nFft/nMels for other rates.
 */
export function melLoss(prediction: tf.Tensor, target: tf.Tensor, options: MelLossOptions): tf.Scalar {
  checkPair(prediction, target, 'melLoss');
  const { nFft = 256, hopLength = Math.floor(nFft / 4), winLength = nFft, epsilon = 1e-5, ...mel } = options;
  const melOptions: MelOptions = { ...mel, nFft };
  return tf.tidy(() => {
    const logMel = (x: tf.Tensor): tf.Tensor =>
      tf.log(tf.add(melFromSpectrogramTf(stftMagnitudeTf(x, { nFft, hopLength, winLength }), melOptions), epsilon));
    return tf.mean(tf.abs(tf.sub(logMel(target), logMel(prediction)))) as tf.Scalar;
  });
}
