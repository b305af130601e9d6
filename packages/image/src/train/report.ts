/** The end-of-training report: reconstructions, codebook usage and loss figures plus a JSON summary. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { engineInfo, writeFileAtomic } from '@vqkit/core';
import type { ImageSplit } from '../data/dataset.js';
import type { RawImage } from '../io.js';
import type { ImageTokenizerConfig } from '../model/config.js';
import type { ImageVQVAE } from '../model/vqvae.js';
import { codebookUsageChart, imageGrid, lineChart, type LineSeries } from '../report/charts.js';
import type { ImageTrainerState, ValidationResult } from './trainer.js';

export interface TrainingReportInput {
  /** Report directory (created). */
  dir: string;
  model: ImageVQVAE;
  /** Split the reconstruction grid is drawn from (its first images, centre-cropped). */
  split: ImageSplit;
  /** Number of original/reconstruction pairs. */
  reportImages: number;
  state: ImageTrainerState;
  validation: ValidationResult;
  /** Code counts of the final validation pass, per level. */
  histogram: Int32Array[];
  tokenizerId: string;
  config: ImageTokenizerConfig;
}

/** Contents of `report/summary.json`. */
export interface TrainingSummary {
  tokenizerId: string;
  steps: number;
  epochs: number;
  batchSize: number;
  trainingSeconds: number;
  backend: string | undefined;
  parameters: number;
  finalTrainingLoss: number | undefined;
  finalTrainingReconLoss: number | undefined;
  validation: ValidationResult;
  validationHistory: ValidationResult[];
  config: ImageTokenizerConfig;
}

async function reconstructionGrid(model: ImageVQVAE, split: ImageSplit, count: number): Promise<Buffer> {
  const n = Math.min(count, split.imageCount);
  // loadBatchOf also works for streaming datasets (cache: false).
  const batch = await split.loadBatchOf(Array.from({ length: n }, (_, i) => i));
  const recon = tf.tidy(() => model.reconstruct(tf.tensor4d(batch.images, batch.shape)));
  const reconData = recon.dataSync() as Float32Array;
  recon.dispose();
  const per = batch.height * batch.width * batch.channels;
  const image = (data: Float32Array, i: number): RawImage => ({ data: data.subarray(i * per, (i + 1) * per), width: batch.width, height: batch.height, channels: batch.channels });
  const originals = Array.from({ length: n }, (_, i) => image(batch.images, i));
  const reconstructions = Array.from({ length: n }, (_, i) => image(reconData, i));
  return imageGrid([originals, reconstructions], { rowLabels: ['original', 'reconstruction'], title: 'validation reconstructions' });
}

/** Writes report/{reconstructions.png, codebook-usage.png, loss.png, summary.json}. */
export async function writeTrainingReport(input: TrainingReportInput): Promise<TrainingSummary> {
  const { dir, model, state, validation } = input;
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, 'reconstructions.png'), await reconstructionGrid(model, input.split, input.reportImages));
  const levels = input.histogram.length;
  writeFileAtomic(
    path.join(dir, 'codebook-usage.png'),
    await codebookUsageChart(input.histogram[0]!, { title: levels > 1 ? `validation codes (level 1 of ${levels})` : 'validation codes' }),
  );
  const series: LineSeries[] = [
    { name: 'train loss', x: state.lossHistory.map((p) => p.step), y: state.lossHistory.map((p) => p.loss) },
    { name: 'train MSE', x: state.lossHistory.map((p) => p.step), y: state.lossHistory.map((p) => p.reconLoss) },
  ];
  if (state.validationHistory.length > 0) {
    series.push({ name: 'validation MSE', x: state.validationHistory.map((v) => v.step), y: state.validationHistory.map((v) => v.mse) });
  }
  if (state.lossHistory.length > 0) {
    writeFileAtomic(path.join(dir, 'loss.png'), await lineChart(series, { title: 'training loss', xLabel: 'step', yLabel: 'loss', logY: true }));
  }
  const last = state.lossHistory.at(-1);
  const summary: TrainingSummary = {
    tokenizerId: input.tokenizerId,
    steps: state.step,
    epochs: validation.epoch,
    batchSize: state.batchSize,
    trainingSeconds: Math.round(state.elapsedSeconds * 10) / 10,
    backend: engineInfo()?.description,
    parameters: model.parameterCount(),
    finalTrainingLoss: last?.loss,
    finalTrainingReconLoss: last?.reconLoss,
    validation,
    validationHistory: state.validationHistory,
    config: input.config,
  };
  writeFileAtomic(path.join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
