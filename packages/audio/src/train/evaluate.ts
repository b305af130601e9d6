/**
 * Reconstruction quality of an audio codec on whole clips, per level count
 * (bitrate): mean SI-SNR, log-spectral distance and mel-cepstral distortion
 * (metrics.ts), plus the code usage of the first level.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@vqkit/core';
import { reconstructionMetrics } from '../metrics.js';
import type { AudioCodec } from '../model/codec.js';
import { bitrate } from '../model/config.js';

/** Metrics at one level count. */
export interface AudioBitrateMetrics {
  levels: number;
  /** bit/s = frame rate × levels × log2 K. */
  bitrate: number;
  /** Mean over clips (clips whose SI-SNR is undefined — silent references — are left out of that mean). */
  siSnrDb: number;
  logSpectralDistanceDb: number;
  melCepstralDistortionDb: number;
}

export interface AudioEvaluation {
  clips: number;
  /** One entry per evaluated level count, fewest levels first. */
  bitrates: AudioBitrateMetrics[];
  /** First-level codes used at least once / codebook size (at the highest evaluated level count). */
  usedFraction: number;
  /** Perplexity of the first level's codes over all clips. */
  perplexity: number;
  /** Code counts of the first level. */
  histogram: Int32Array;
}

/** Reconstructs one clip with `levels` levels (one forward pass; the clip is padded to whole frames and cropped back). */
export function reconstructClip(model: AudioCodec, clip: Float32Array, levels: number): { output: Float32Array; codes: Int32Array } {
  const [codes, audio] = tf.tidy(() => {
    const c = model.encode(tf.tensor2d(clip, [1, clip.length]), levels);
    return [c, model.decode(c)] as const;
  });
  const output = (audio.dataSync() as Float32Array).slice(0, clip.length);
  const codeData = codes.dataSync() as Int32Array;
  tf.dispose([codes, audio]);
  return { output, codes: codeData };
}

/** Evaluates `model` on `clips` at each level count in `options.levels` (default: all). */
export function evaluateAudioCodec(model: AudioCodec, clips: readonly Float32Array[], options: { levels?: readonly number[] } = {}): AudioEvaluation {
  if (clips.length === 0) throw new InvalidArgumentError('evaluateAudioCodec: no clips');
  const config = model.config;
  const levelList = [...(options.levels ?? Array.from({ length: config.quantizer.levels }, (_, i) => i + 1))].sort((a, b) => a - b);
  const sr = config.sampleRate;
  const codebookSize = config.quantizer.codebookSize;
  const histogram = new Int32Array(codebookSize);
  const bitrates: AudioBitrateMetrics[] = [];
  for (const levels of levelList) {
    let si = 0;
    let siCount = 0;
    let lsd = 0;
    let mcd = 0;
    for (const clip of clips) {
      const { output, codes } = reconstructClip(model, clip, levels);
      const m = reconstructionMetrics(output, clip, sr);
      if (Number.isFinite(m.siSnrDb)) {
        si += m.siSnrDb;
        siCount++;
      }
      lsd += m.logSpectralDistanceDb;
      mcd += m.melCepstralDistortionDb;
      if (levels === levelList.at(-1)) for (let i = 0; i < codes.length; i += levels) histogram[codes[i]!]!++;
    }
    bitrates.push({
      levels,
      bitrate: bitrate(config, levels),
      siSnrDb: siCount > 0 ? si / siCount : Number.NaN,
      logSpectralDistanceDb: lsd / clips.length,
      melCepstralDistortionDb: mcd / clips.length,
    });
  }
  let total = 0;
  let used = 0;
  for (const c of histogram) {
    total += c;
    if (c > 0) used++;
  }
  let entropy = 0;
  for (const c of histogram) if (c > 0) entropy -= (c / total) * Math.log(c / total);
  return { clips: clips.length, bitrates, usedFraction: used / codebookSize, perplexity: Math.exp(entropy), histogram };
}
