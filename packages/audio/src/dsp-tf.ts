/**
 * Differentiable spectral transforms as tfjs ops, for training losses.
 *
 * tf.signal.stft cannot be used: its complex FFT has no registered gradient
 * ("gradient function not found for Complex"). Instead the STFT is a real
 * DFT by strided convolution with windowed cos/sin filters (see stftTf),
 * whose forward and backward passes run on the engine's GEMM kernels.
 * Same framing/window conventions as dsp.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@vqkit/core';
import {
  melFilterbank,
  paddedWindow,
  resolveStftOptions,
  stftFrameCount,
  stftLeftPad,
  type MelOptions,
  type ResolvedStftOptions,
  type StftOptions,
} from './dsp.js';

/**
 * Windowed real DFT filters as conv1d kernels [nFft, 1, bins]: cos and −sin
 * halves separately, so real and imaginary parts come out of two convolutions
 * without slicing (slices are slow per-element copies on the CPU backends).
 * Cached per framing as plain arrays; tensors are made per call.
 */
const dftFilterCache = new Map<string, { cos: Float32Array; sin: Float32Array }>();

function windowedDftFilters(options: ResolvedStftOptions): { cos: Float32Array; sin: Float32Array } {
  const key = `${options.nFft}/${options.winLength}`;
  let filters = dftFilterCache.get(key);
  if (filters === undefined) {
    const { nFft } = options;
    const bins = Math.floor(nFft / 2) + 1;
    const window = paddedWindow(options);
    const cos = new Float32Array(nFft * bins);
    const sin = new Float32Array(nFft * bins);
    for (let i = 0; i < nFft; i++) {
      for (let k = 0; k < bins; k++) {
        const angle = (2 * Math.PI * ((i * k) % nFft)) / nFft;
        cos[i * bins + k] = window[i]! * Math.cos(angle);
        sin[i * bins + k] = -window[i]! * Math.sin(angle);
      }
    }
    filters = { cos, sin };
    dftFilterCache.set(key, filters);
  }
  return filters;
}

function as2d(signals: tf.Tensor): tf.Tensor2D {
  if (signals.rank === 1) return signals.expandDims(0) as tf.Tensor2D;
  if (signals.rank === 2) return signals as tf.Tensor2D;
  throw new InvalidArgumentError(`expected signals of shape [T] or [batch, T], got [${signals.shape.join(', ')}]`);
}

/**
 * Real and imaginary STFT parts, each [batch, frames, nFft/2 + 1].
 *
 * Framing and DFT are one strided convolution per part: the zero-padded
 * signal [batch, T, 1] convolved ('valid', stride = hop) with the windowed
 * DFT filters. That maps onto the engine's GEMM-backed Conv2D kernels in both
 * directions and needs no per-frame slicing or gathering.
 */
export function stftTf(signals: tf.Tensor, options: StftOptions): { real: tf.Tensor3D; imag: tf.Tensor3D } {
  const opts = resolveStftOptions(options);
  return tf.tidy(() => {
    const x = as2d(signals);
    const [batch, n] = x.shape;
    const { nFft, hopLength } = opts;
    const bins = Math.floor(nFft / 2) + 1;
    const frames = stftFrameCount(n, opts);
    const left = stftLeftPad(opts);
    // Pad to cover the last frame; any tail beyond it is shorter than a hop,
    // so the 'valid' convolution ignores it and yields exactly `frames` frames.
    const right = Math.max(0, (frames - 1) * hopLength + nFft - left - n);
    const padded = tf.pad(x, [[0, 0], [left, right]]).reshape([batch, left + n + right, 1]) as tf.Tensor3D;
    const { cos, sin } = windowedDftFilters(opts);
    const real = tf.conv1d(padded, tf.tensor3d(cos, [nFft, 1, bins]), hopLength, 'valid');
    const imag = tf.conv1d(padded, tf.tensor3d(sin, [nFft, 1, bins]), hopLength, 'valid');
    return { real, imag };
  });
}

/**
 * Magnitude spectrogram [batch, frames, nFft/2 + 1], √(re² + im² + powerEpsilon).
 * The epsilon keeps √'s gradient finite at silent bins; it is added rather
 * than used as a clamp so the gradient is never cut to zero (and no
 * Maximum/cast-of-bool gradient path is needed).
 */
export function stftMagnitudeTf(signals: tf.Tensor, options: StftOptions & { powerEpsilon?: number }): tf.Tensor3D {
  const { powerEpsilon = 1e-7 } = options;
  return tf.tidy(() => {
    const { real, imag } = stftTf(signals, options);
    const power = tf.add(tf.square(real), tf.square(imag));
    return tf.sqrt(powerEpsilon === 0 ? power : tf.add(power, powerEpsilon)) as tf.Tensor3D;
  });
}

/** Applies a mel filterbank to a [batch, frames, bins] spectrogram → [batch, frames, nMels]. */
export function melFromSpectrogramTf(spectrogram: tf.Tensor3D, options: MelOptions): tf.Tensor3D {
  const fb = melFilterbank(options);
  if (fb.bins !== spectrogram.shape[2]) {
    throw new InvalidArgumentError(`mel filterbank for nFft=${options.nFft} has ${fb.bins} bins, spectrogram has ${spectrogram.shape[2]}`);
  }
  return tf.tidy(() => {
    const [batch, frames, bins] = spectrogram.shape;
    const fbT = tf.tensor2d(fb.data, [fb.frames, bins]).transpose();
    return tf.matMul(spectrogram.reshape([batch * frames, bins]), fbT).reshape([batch, frames, fb.frames]) as tf.Tensor3D;
  });
}
