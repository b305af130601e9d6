/**
 * Differentiable spectral transforms as tfjs ops, for training losses.
 *
 * tf.signal.stft cannot be used: its complex FFT has no registered gradient
 * ("gradient function not found for Complex"). Instead the signal is cut
 * into frames and multiplied by a windowed real DFT matrix [nFft, 2·bins]
 * (cos | −sin columns) — one matMul, whose forward and backward passes run
 * on the engine's GEMM kernels. Same framing/window conventions as dsp.ts.
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

/** Windowed real DFT basis, cached per framing (plain arrays; tensors are made per call). */
const dftBasisCache = new Map<string, Float32Array>();

function windowedDftBasis(options: ResolvedStftOptions): Float32Array {
  const key = `${options.nFft}/${options.winLength}`;
  let basis = dftBasisCache.get(key);
  if (basis === undefined) {
    const { nFft } = options;
    const bins = Math.floor(nFft / 2) + 1;
    const window = paddedWindow(options);
    basis = new Float32Array(nFft * 2 * bins);
    for (let i = 0; i < nFft; i++) {
      for (let k = 0; k < bins; k++) {
        const angle = (2 * Math.PI * ((i * k) % nFft)) / nFft;
        basis[i * 2 * bins + k] = window[i]! * Math.cos(angle);
        basis[i * 2 * bins + bins + k] = -window[i]! * Math.sin(angle);
      }
    }
    dftBasisCache.set(key, basis);
  }
  return basis;
}

function as2d(signals: tf.Tensor): tf.Tensor2D {
  if (signals.rank === 1) return signals.expandDims(0) as tf.Tensor2D;
  if (signals.rank === 2) return signals as tf.Tensor2D;
  throw new InvalidArgumentError(`expected signals of shape [T] or [batch, T], got [${signals.shape.join(', ')}]`);
}

/** Frames [batch, T] → [batch, frames, nFft] (zero-padded per the options). */
function frameSignals(signals: tf.Tensor2D, options: ResolvedStftOptions): tf.Tensor3D {
  const [batch, n] = signals.shape;
  const { nFft, hopLength } = options;
  const frames = stftFrameCount(n, options);
  const left = stftLeftPad(options);
  const needed = (frames - 1) * hopLength + nFft;
  const right = needed - left - n;
  // right < 0 means the tail past the last frame is unused: crop it.
  const padded = right >= 0 ? tf.pad(signals, [[0, 0], [left, right]]) : tf.pad(signals.slice([0, 0], [batch, n + right]), [[0, 0], [left, 0]]);
  if (nFft % hopLength === 0) {
    // Hop-sized blocks; frame f is blocks f … f+r−1 side by side. Slices and a
    // concat have cheap gradients (a gather's is a scatter-add).
    const r = nFft / hopLength;
    const blocks = padded.reshape([batch, frames + r - 1, hopLength]);
    const parts: tf.Tensor3D[] = [];
    for (let k = 0; k < r; k++) parts.push(blocks.slice([0, k, 0], [batch, frames, hopLength]) as tf.Tensor3D);
    return (r === 1 ? parts[0]! : tf.concat(parts, 2)) as tf.Tensor3D;
  }
  const indices = new Int32Array(frames * nFft);
  for (let f = 0; f < frames; f++) for (let i = 0; i < nFft; i++) indices[f * nFft + i] = f * hopLength + i;
  return tf.gather(padded, tf.tensor2d(indices, [frames, nFft], 'int32'), 1) as tf.Tensor as tf.Tensor3D;
}

/** Real and imaginary STFT parts, each [batch, frames, nFft/2 + 1]. */
export function stftTf(signals: tf.Tensor, options: StftOptions): { real: tf.Tensor3D; imag: tf.Tensor3D } {
  const opts = resolveStftOptions(options);
  return tf.tidy(() => {
    const x = as2d(signals);
    const batch = x.shape[0];
    const bins = Math.floor(opts.nFft / 2) + 1;
    const frames = frameSignals(x, opts);
    const nFrames = frames.shape[1];
    const basis = tf.tensor2d(windowedDftBasis(opts), [opts.nFft, 2 * bins]);
    const spectrum = tf.matMul(frames.reshape([batch * nFrames, opts.nFft]), basis).reshape([batch, nFrames, 2 * bins]);
    const real = spectrum.slice([0, 0, 0], [batch, nFrames, bins]) as tf.Tensor3D;
    const imag = spectrum.slice([0, 0, bins], [batch, nFrames, bins]) as tf.Tensor3D;
    return { real, imag };
  });
}

/**
 * Magnitude spectrogram [batch, frames, nFft/2 + 1], √max(re² + im², powerFloor).
 * The floor keeps the gradient of √ finite at silent bins.
 */
export function stftMagnitudeTf(signals: tf.Tensor, options: StftOptions & { powerFloor?: number }): tf.Tensor3D {
  const { powerFloor = 1e-7 } = options;
  return tf.tidy(() => {
    const { real, imag } = stftTf(signals, options);
    return tf.sqrt(tf.maximum(tf.add(tf.square(real), tf.square(imag)), powerFloor)) as tf.Tensor3D;
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
