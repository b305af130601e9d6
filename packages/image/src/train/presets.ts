/**
 * Named architecture + training presets: the configurations the benchmarks
 * measure, usable by name from code (`imagePreset('fmnist-f4')`) and from the
 * command line (`vqkit train image DATA --preset fmnist-f4`).
 *
 * Every preset uses the Sonnet VQ-VAE architecture (128 hidden channels, two
 * residual blocks, D = 64, K = 512) with an EMA codebook, k-means
 * initialisation and dead-code restart; they differ in the downsampling
 * factor, the channels and how training samples are cut from the images.
 */
import { InvalidArgumentError } from '@vqkit/core';
import {
  createImageTokenizerConfig,
  type DownsamplingFactor,
  type ImageTokenizerConfig,
  type VqQuantizerConfig,
} from '../model/config.js';

export type ImagePresetName = 'fmnist-f4' | 'fmnist-f2' | 'kodak-f4' | 'kodak-f8';

/** Training hyperparameters of a preset (the trainer's options of the same names). */
export interface ImagePresetTraining {
  batchSize: number;
  learningRate: number;
  warmupSteps: number;
  finalLearningRateRatio: number;
}

/** How training samples are cut from the images (the dataset options of the same names). */
export interface ImagePresetData {
  channels: 1 | 3;
  /** Random training crops of this size (validation: centre crops); undefined = whole images. */
  cropSize: number | undefined;
  /** Crops drawn per image per epoch. */
  cropsPerImage: number;
  flipHorizontal: boolean;
}

export interface ImagePreset {
  name: ImagePresetName;
  description: string;
  config: ImageTokenizerConfig;
  training: ImagePresetTraining;
  data: ImagePresetData;
}

/**
 * Quantizer settings shared by the presets. decay 0.95 (not the usual 0.99)
 * lets the EMA statistics notice a code that stopped winning within tens of
 * steps instead of hundreds, so restarts keep up with an encoder that is
 * still moving fast in short training runs; the restart threshold is capped
 * by the quantizer at half the uniform share of a batch's vectors.
 */
const QUANTIZER: VqQuantizerConfig = { type: 'vq', codebookSize: 512, decay: 0.95, kmeansInit: true, restartThreshold: 3 };

function config(downsampling: DownsamplingFactor, size: number, channels: 1 | 3): ImageTokenizerConfig {
  return createImageTokenizerConfig({
    architecture: { downsampling, hiddenChannels: 128, residualBlocks: 2, residualHiddenChannels: 32, codeDim: 64, output: 'sigmoid' },
    preprocessing: { height: size, width: size, channels, resize: 'none' },
    quantizer: { ...QUANTIZER },
  });
}

const FMNIST_TRAINING: ImagePresetTraining = { batchSize: 64, learningRate: 1e-3, warmupSteps: 100, finalLearningRateRatio: 0.05 };
const KODAK_TRAINING: ImagePresetTraining = { batchSize: 16, learningRate: 5e-4, warmupSteps: 100, finalLearningRateRatio: 0.05 };
const FMNIST_DATA: ImagePresetData = { channels: 1, cropSize: undefined, cropsPerImage: 1, flipHorizontal: false };
const KODAK_DATA: ImagePresetData = { channels: 3, cropSize: 64, cropsPerImage: 64, flipHorizontal: true };

function build(name: ImagePresetName): ImagePreset {
  switch (name) {
    case 'fmnist-f4':
      return { name, description: 'Fashion-MNIST 28×28 gray, f=4 → 7×7 codes, K=512', config: config(4, 28, 1), training: { ...FMNIST_TRAINING }, data: { ...FMNIST_DATA } };
    case 'fmnist-f2':
      return { name, description: 'Fashion-MNIST 28×28 gray, f=2 → 14×14 codes, K=512', config: config(2, 28, 1), training: { ...FMNIST_TRAINING }, data: { ...FMNIST_DATA } };
    case 'kodak-f4':
      return { name, description: 'photos, RGB, trained on random 64×64 crops, f=4 (0.56 bpp before entropy coding)', config: config(4, 64, 3), training: { ...KODAK_TRAINING }, data: { ...KODAK_DATA } };
    case 'kodak-f8':
      return { name, description: 'photos, RGB, trained on random 64×64 crops, f=8 (0.14 bpp before entropy coding)', config: config(8, 64, 3), training: { ...KODAK_TRAINING }, data: { ...KODAK_DATA } };
  }
}

export const IMAGE_PRESET_NAMES: readonly ImagePresetName[] = ['fmnist-f4', 'fmnist-f2', 'kodak-f4', 'kodak-f8'];

/** A fresh copy of a named preset. Throws InvalidArgumentError listing the names for an unknown one. */
export function imagePreset(name: string): ImagePreset {
  if (!(IMAGE_PRESET_NAMES as readonly string[]).includes(name)) {
    throw new InvalidArgumentError(`unknown image preset ${JSON.stringify(name)}; known presets: ${IMAGE_PRESET_NAMES.join(', ')}`);
  }
  return build(name as ImagePresetName);
}
