/**
 * The end-of-training report: spectrograms of validation clips (original vs
 * reconstruction at the full bitrate), the loss curve, first-level code usage
 * and a JSON summary with the metrics at every bitrate.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { engineInfo, writeFileAtomic } from '@vqkit/core';
import { codebookUsageChart, imageGrid, lineChart, type LineSeries, type RawImage } from '@vqkit/image';
import type { AudioCodec } from '../model/codec.js';
import type { AudioTokenizerConfig } from '../model/config.js';
import { spectrogramRgb } from '../spectrogram-image.js';
import { reconstructClip } from './evaluate.js';
import type { AudioTrainerState, AudioValidationResult } from './trainer.js';

export interface AudioTrainingReportInput {
  dir: string;
  model: AudioCodec;
  /** Clips drawn in spectrograms.png. */
  clips: readonly Float32Array[];
  state: AudioTrainerState;
  validation: AudioValidationResult;
  /** First-level code counts of the final validation. */
  histogram: Int32Array;
  tokenizerId: string;
  config: AudioTokenizerConfig;
  /** bit/s per level count. */
  bitrates: number[];
}

/** Contents of report/summary.json. */
export interface AudioTrainingSummary {
  tokenizerId: string;
  steps: number;
  batchSize: number;
  segmentSeconds: number;
  trainingSeconds: number;
  backend: string | undefined;
  parameters: number;
  frameRate: number;
  bitrates: number[];
  finalTrainingLoss: number | undefined;
  validation: AudioValidationResult;
  validationHistory: AudioValidationResult[];
  config: AudioTokenizerConfig;
}

/** Original / reconstruction spectrogram pairs, one column per clip. */
export async function spectrogramComparison(model: AudioCodec, clips: readonly Float32Array[], sampleRate: number): Promise<Buffer> {
  const toRaw = (samples: Float32Array): RawImage => {
    const img = spectrogramRgb(samples, sampleRate);
    return { data: img.data, width: img.width, height: img.height, channels: 3 };
  };
  const originals = clips.map(toRaw);
  const reconstructions = clips.map((clip) => toRaw(reconstructClip(model, clip, model.levels).output));
  return imageGrid([originals, reconstructions], { rowLabels: ['original', 'reconstruction'], title: 'validation spectrograms (full bitrate)', scale: 1 });
}

/** Writes report/{spectrograms.png, loss.png, codebook-usage.png, summary.json}. */
export async function writeAudioTrainingReport(input: AudioTrainingReportInput): Promise<AudioTrainingSummary> {
  const { dir, model, state, validation, config } = input;
  fs.mkdirSync(dir, { recursive: true });
  if (input.clips.length > 0) writeFileAtomic(path.join(dir, 'spectrograms.png'), await spectrogramComparison(model, input.clips, config.sampleRate));
  writeFileAtomic(path.join(dir, 'codebook-usage.png'), await codebookUsageChart(input.histogram, { title: `validation codes (level 1 of ${config.quantizer.levels})` }));
  if (state.lossHistory.length > 0) {
    const steps = state.lossHistory.map((p) => p.step);
    const series: LineSeries[] = [
      { name: 'train loss', x: steps, y: state.lossHistory.map((p) => p.loss) },
      { name: 'MR-STFT', x: steps, y: state.lossHistory.map((p) => p.stft) },
      { name: 'mel L1', x: steps, y: state.lossHistory.map((p) => p.mel) },
    ];
    writeFileAtomic(path.join(dir, 'loss.png'), await lineChart(series, { title: 'training loss', xLabel: 'step', yLabel: 'loss', logY: true }));
  }
  const summary: AudioTrainingSummary = {
    tokenizerId: input.tokenizerId,
    steps: state.step,
    batchSize: state.batchSize,
    segmentSeconds: state.segmentLength / config.sampleRate,
    trainingSeconds: Math.round(state.elapsedSeconds * 10) / 10,
    backend: engineInfo()?.description,
    parameters: model.parameterCount(),
    frameRate: config.sampleRate / model.hop,
    bitrates: input.bitrates,
    finalTrainingLoss: state.lossHistory.at(-1)?.loss,
    validation,
    validationHistory: state.validationHistory,
    config,
  };
  writeFileAtomic(path.join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
