/**
 * Image tokenizer commands:
 *
 *   vqkit train image DATA -o DIR [--preset fmnist-f4] [options]
 *   vqkit encode image IMG… -m DIR -o OUT [--format json|vqt]
 *   vqkit decode CODES -m DIR -o OUT.png      (handler for image codes)
 *
 * DATA is a folder of PNG/JPEG/WebP files, an IDX image file (.gz allowed),
 * or a folder in the MNIST layout (train-images-idx3-ubyte[.gz], with the
 * t10k files used for validation).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { FileFormatError, InvalidArgumentError, TokenizerMismatchError, writeFileAtomic } from '@vqkit/core';
import {
  IMAGE_PRESET_NAMES,
  ImageDataset,
  ImageTokenizer,
  imageCodeSpace,
  imageCodesToJson,
  imagePreset,
  imageFormatFromPath,
  loadEntropyModel,
  packImageCodes,
  parseImageCodesJson,
  saveImage,
  trainImageTokenizer,
  unpackImageCodes,
  validateImageTokenizerConfig,
  type DatasetWarning,
  type DownsamplingFactor,
  type ImageDatasetOptions,
  type ImageSource,
  type ImageTokenizerConfig,
  type ImageTokenizerConfigInput,
  type ResizePolicy,
  type TrainingProgress,
  type ValidationResult,
  type VqQuantizerConfig,
} from '@vqkit/image';
import { startEngine, type EngineFlags } from '../engine.js';
import { loadImageTokenizer } from '../inference.js';
import { createProgress } from '../progress.js';
import type { CommandGroups, DecodeRequest } from './groups.js';
import { intArg, numberArg, parseSize } from '../flags.js';

const IDX_NAMES = { train: 'train-images-idx3-ubyte', trainLabels: 'train-labels-idx1-ubyte', test: 't10k-images-idx3-ubyte', testLabels: 't10k-labels-idx1-ubyte' };

function findIdx(dir: string, base: string): string | undefined {
  for (const name of [`${base}.gz`, base]) if (fs.existsSync(path.join(dir, name))) return path.join(dir, name);
  return undefined;
}

function isIdxFile(file: string): boolean {
  return /(\.idx\d?|-ubyte)(\.gz)?$/i.test(file);
}

/** Training (and default validation) sources for the DATA argument. */
export function imageSourcesFor(data: string, limit?: number): { source: ImageSource; validation?: ImageSource } {
  if (!fs.existsSync(data)) throw new FileFormatError('training data not found (expected a folder of images or an IDX file)', data);
  if (fs.statSync(data).isDirectory()) {
    const train = findIdx(data, IDX_NAMES.train);
    if (train) {
      const test = findIdx(data, IDX_NAMES.test);
      const labels = findIdx(data, IDX_NAMES.trainLabels);
      const testLabels = findIdx(data, IDX_NAMES.testLabels);
      return {
        source: { kind: 'idx', images: train, labels, limit },
        validation: test ? { kind: 'idx', images: test, labels: testLabels } : undefined,
      };
    }
    return { source: { kind: 'folder', path: data } };
  }
  if (isIdxFile(data)) return { source: { kind: 'idx', images: data, limit } };
  throw new InvalidArgumentError(`${data} is neither a folder of images nor an IDX file (…-ubyte, .idx, optionally .gz)`);
}

interface TrainImageFlags extends EngineFlags {
  output: string;
  preset?: string;
  config?: string;
  validation?: string;
  validationFraction?: number;
  channels?: number;
  size?: string;
  resize?: ResizePolicy;
  crop?: string;
  cropsPerImage?: number;
  flip?: boolean;
  limit?: number;
  cache: boolean;
  onCorrupt: 'skip' | 'fail';
  downsampling?: number;
  hiddenChannels?: number;
  residualBlocks?: number;
  codeDim?: number;
  codebookSize?: number;
  decay?: number;
  commitment?: number;
  kmeansInit: boolean;
  restartThreshold?: number;
  steps?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  warmupSteps?: number;
  seed: number;
  checkpointEvery: number;
  resume?: boolean;
  maxValidationImages?: number;
  timeLimit?: number;
}

function readConfigFile(file: string): ImageTokenizerConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FileFormatError(`cannot read a tokenizer config (${(err as Error).message})`, file, { cause: err });
  }
  return validateImageTokenizerConfig(parsed, file);
}

/** The model config: preset or file, then flag overrides. */
function configFromFlags(flags: TrainImageFlags, channels: 1 | 3): ImageTokenizerConfig | ImageTokenizerConfigInput {
  const base: ImageTokenizerConfigInput = flags.config
    ? readConfigFile(flags.config)
    : flags.preset
      ? imagePreset(flags.preset).config
      : { preprocessing: { channels } };
  const architecture = { ...base.architecture };
  if (flags.downsampling !== undefined) architecture.downsampling = flags.downsampling as DownsamplingFactor;
  if (flags.hiddenChannels !== undefined) architecture.hiddenChannels = flags.hiddenChannels;
  if (flags.residualBlocks !== undefined) architecture.residualBlocks = flags.residualBlocks;
  if (flags.codeDim !== undefined) architecture.codeDim = flags.codeDim;
  let quantizer = base.quantizer ?? { type: 'vq', codebookSize: 512 };
  if (quantizer.type === 'fsq') {
    if (flags.codebookSize !== undefined || flags.decay !== undefined || flags.restartThreshold !== undefined || !flags.kmeansInit) {
      throw new InvalidArgumentError('codebook flags (--codebook-size, --decay, --restart-threshold, --no-kmeans-init) do not apply to an FSQ quantizer');
    }
  } else {
    const vq: VqQuantizerConfig = { ...(quantizer as VqQuantizerConfig) };
    if (flags.codebookSize !== undefined) vq.codebookSize = flags.codebookSize;
    if (flags.decay !== undefined) vq.decay = flags.decay;
    if (flags.commitment !== undefined) vq.commitmentWeight = flags.commitment;
    if (flags.restartThreshold !== undefined) vq.restartThreshold = flags.restartThreshold;
    if (!flags.kmeansInit) vq.kmeansInit = false;
    quantizer = vq;
  }
  // Height/width follow the dataset's samples unless a config file fixes them.
  const preprocessing = { ...base.preprocessing, channels };
  if (!flags.config) {
    delete preprocessing.height;
    delete preprocessing.width;
  }
  return { architecture, preprocessing, quantizer };
}

function datasetOptions(data: string, flags: TrainImageFlags, onWarning: (w: DatasetWarning) => void): ImageDatasetOptions {
  const preset = flags.preset ? imagePreset(flags.preset) : undefined;
  const { source, validation: defaultValidation } = imageSourcesFor(data, flags.limit);
  let validation: ImageSource | undefined;
  if (flags.validation !== undefined) validation = imageSourcesFor(flags.validation).source;
  else if (flags.validationFraction === undefined) validation = defaultValidation;
  const channels = (flags.channels ?? preset?.data.channels ?? (source.kind === 'idx' ? 1 : 3)) as 1 | 3;
  const crop = flags.crop ?? (preset?.data.cropSize !== undefined ? String(preset.data.cropSize) : undefined);
  return {
    source,
    validation,
    validationFraction: flags.validationFraction,
    channels,
    size: flags.size === undefined ? undefined : parseSize(flags.size),
    resize: flags.resize,
    cropSize: crop === undefined ? undefined : parseSize(crop, 'crop'),
    cropsPerImage: flags.cropsPerImage ?? preset?.data.cropsPerImage,
    flipHorizontal: flags.flip ?? preset?.data.flipHorizontal,
    seed: flags.seed,
    onCorrupt: flags.onCorrupt,
    cache: flags.cache,
    onWarning,
  };
}

function describeValidation(v: ValidationResult): string {
  const perplexity = v.perplexity.map((p) => p.toFixed(1)).join('/');
  const usage = v.usedFraction.map((u) => `${(100 * u).toFixed(1)}%`).join('/');
  return `PSNR ${v.psnr.toFixed(2)} dB | codebook usage ${usage} | perplexity ${perplexity} (${v.images} images)`;
}

async function trainImage(data: string, flags: TrainImageFlags): Promise<void> {
  await startEngine(flags);
  const preset = flags.preset ? imagePreset(flags.preset) : undefined;
  const skipped: DatasetWarning[] = [];
  const dataset = await ImageDataset.load(
    datasetOptions(data, flags, (w) => {
      skipped.push(w);
      console.error(`vqkit: warning: ${w.message}`);
    }),
  );
  const shape = dataset.sampleShape;
  console.error(
    `vqkit: ${dataset.train.imageCount} training images` +
      (dataset.validation ? `, ${dataset.validation.imageCount} validation images` : ' (validating on training images)') +
      `; samples ${shape.width}x${shape.height}x${shape.channels}` +
      (skipped.length ? `; ${skipped.length} file(s) skipped` : ''),
  );

  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    console.error('\nvqkit: interrupted; finishing the current step and writing a checkpoint (Ctrl-C again to quit at once)');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  let bar: ReturnType<typeof createProgress> | undefined;
  // The latest validation shows in the progress line (one bar for the whole run, so its rate and ETA stay right).
  let lastValidation: string | undefined;
  try {
    const result = await trainImageTokenizer({
      dataset,
      outputDir: flags.output,
      config: configFromFlags(flags, shape.channels),
      steps: flags.steps,
      epochs: flags.epochs,
      batchSize: flags.batchSize ?? preset?.training.batchSize,
      learningRate: flags.lr ?? preset?.training.learningRate,
      warmupSteps: flags.warmupSteps ?? preset?.training.warmupSteps,
      finalLearningRateRatio: preset?.training.finalLearningRateRatio,
      seed: flags.seed,
      checkpointEvery: flags.checkpointEvery,
      resume: flags.resume,
      maxValidationImages: flags.maxValidationImages,
      timeLimitSeconds: flags.timeLimit === undefined ? undefined : flags.timeLimit * 60,
      signal: controller.signal,
      onProgress: (p: TrainingProgress) => {
        bar ??= createProgress({ label: 'train', total: p.totalSteps, unit: 'step' });
        bar.update(p.step, {
          loss: p.loss,
          PSNR: Number(p.psnr.toFixed(2)),
          ppl: Number(p.perplexity.toFixed(1)),
          usage: `${(100 * p.usage).toFixed(0)}%`,
          'img/s': Math.round(p.imagesPerSecond),
          val: lastValidation,
        });
      },
      onValidation: (v) => {
        lastValidation = `${v.psnr.toFixed(2)}dB/${(100 * v.usedFraction[0]!).toFixed(0)}%`;
      },
    });
    bar?.stop();
    if (result.resumedFrom > 0) console.error(`vqkit: resumed from step ${result.resumedFrom}`);
    if (result.aborted) {
      console.error(`vqkit: stopped at step ${result.step}/${result.totalSteps}; checkpoint ${result.checkpoint}`);
      console.error(`vqkit: continue with the same command plus --resume`);
      process.exitCode = 130;
      return;
    }
    if (result.stoppedEarly) console.error(`vqkit: time limit reached at step ${result.step}/${result.totalSteps}`);
    if (result.validation) console.error(`vqkit: final validation: ${describeValidation(result.validation)}`);
    console.error(`vqkit: tokenizer written to ${result.tokenizerDir} (report in ${path.join(result.tokenizerDir, 'report')})`);
  } finally {
    bar?.stop();
    process.off('SIGINT', onSigint);
  }
}

type CodesFormat = 'json' | 'vqt';

function formatFor(out: string, flag: CodesFormat | undefined): CodesFormat {
  if (flag) return flag;
  return path.extname(out).toLowerCase() === '.json' ? 'json' : 'vqt';
}

interface EncodeImageFlags extends EngineFlags {
  model: string;
  output: string;
  format?: CodesFormat;
}

async function encodeImage(inputs: string[], flags: EncodeImageFlags): Promise<void> {
  await startEngine(flags);
  const tokenizer = await loadImageTokenizer(flags.model);
  try {
    const many = inputs.length > 1;
    const outIsDir = many || (fs.existsSync(flags.output) && fs.statSync(flags.output).isDirectory());
    if (outIsDir) fs.mkdirSync(flags.output, { recursive: true });
    const format = outIsDir ? (flags.format ?? 'vqt') : formatFor(flags.output, flags.format);
    const space = imageCodeSpace(tokenizer);
    const learnedModel = loadEntropyModel(flags.model);
    const seen = new Set<string>();
    for (const input of inputs) {
      const [encoded] = await tokenizer.encode([input]);
      const codes = encoded!;
      let target = flags.output;
      if (outIsDir) {
        const name = `${path.basename(input, path.extname(input))}.${format}`;
        if (seen.has(name)) throw new InvalidArgumentError(`two inputs would both write ${name}; encode them into different directories`);
        seen.add(name);
        target = path.join(flags.output, name);
      }
      let bytes: Uint8Array;
      let detail: string;
      if (format === 'json') {
        bytes = new TextEncoder().encode(`${JSON.stringify(imageCodesToJson(codes, space.tokenizerId, space.codebookSizes))}\n`);
        detail = 'JSON';
      } else {
        const packed = packImageCodes(codes, space, { learnedModel });
        bytes = packed.bytes;
        detail = `${packed.stats.entropyModel}, ${packed.stats.bitsPerPixel.toFixed(3)} bpp`;
      }
      writeFileAtomic(target, bytes);
      console.log(`${input} → ${target}: ${codes.width}x${codes.height} → [${codes.shape.join('x')}] codes, ${bytes.length} bytes (${detail})`);
    }
  } finally {
    tokenizer.dispose();
  }
}

/** `vqkit decode` handler for image codes (JSON or .vqt). */
export async function decodeImageCodes(request: DecodeRequest): Promise<void> {
  const model = request.options.model as string;
  const output = request.options.output as string;
  if (!['.png', '.jpg', '.jpeg', '.webp'].includes(path.extname(output).toLowerCase())) {
    throw new InvalidArgumentError(`image codes decode to a .png, .jpg or .webp file, got ${output}`);
  }
  await startEngine(request.globals as EngineFlags);
  const tokenizer = await loadImageTokenizer(model);
  try {
    const space = imageCodeSpace(tokenizer);
    let codes;
    if (request.bytes[0] === 0x7b) {
      const stored = parseImageCodesJson(JSON.parse(new TextDecoder().decode(request.bytes)), request.input);
      if (stored.tokenizerId !== space.tokenizerId) throw new TokenizerMismatchError(space.tokenizerId, stored.tokenizerId);
      codes = stored;
    } else {
      codes = unpackImageCodes(request.bytes, space, { learnedModel: loadEntropyModel(model) }).codes;
    }
    const image = (await tokenizer.decodeBatch([codes]))[0]!;
    imageFormatFromPath(output);
    fs.mkdirSync(path.dirname(path.resolve(output)), { recursive: true });
    await saveImage(output, image);
    console.log(`${request.input} → ${output}: [${codes.shape.join('x')}] codes → ${image.width}x${image.height} image`);
  } finally {
    tokenizer.dispose();
  }
}

export function registerImage(_program: Command, groups: CommandGroups): void {
  groups.train
    .command('image')
    .description('train an image tokenizer (VQ-VAE) on a folder of images or an IDX dataset')
    .argument('<data>', 'folder of PNG/JPEG/WebP images, an IDX file, or a folder with MNIST-style train/t10k IDX files')
    .requiredOption('-o, --output <dir>', 'tokenizer directory (config.json, model.safetensors, checkpoints/, report/)')
    .addOption(new Option('--preset <name>', 'architecture and training preset').choices([...IMAGE_PRESET_NAMES]))
    .option('--config <file>', 'start from this config.json instead of a preset')
    .option('--validation <data>', 'validation images (default: the t10k files of an MNIST-style folder)')
    .option('--validation-fraction <x>', 'hold out this fraction of the training images instead', numberArg('validation-fraction'))
    .addOption(new Option('--channels <n>', 'gray (1) or RGB (3) samples').choices(['1', '3']).argParser(Number))
    .option('--size <WxH>', 'bring every image to this size first (see --resize)')
    .addOption(new Option('--resize <policy>', 'how images reach --size').choices(['center-crop', 'resize', 'pad']))
    .option('--crop <WxH>', 'train on random crops of this size (validation: centre crops)')
    .option('--crops-per-image <n>', 'random crops per image per epoch', intArg('crops-per-image'))
    .option('--flip', 'random horizontal flips')
    .option('--limit <n>', 'use only the first n images of an IDX file', intArg('limit'))
    .option('--no-cache', 'decode folder images per batch instead of holding them all in memory')
    .addOption(new Option('--on-corrupt <policy>', 'unreadable files: report and skip, or stop').choices(['skip', 'fail']).default('skip'))
    .addOption(new Option('--downsampling <f>', 'downsampling factor').choices(['2', '4', '8']).argParser(Number))
    .option('--hidden-channels <n>', 'hidden channels', intArg('hidden-channels'))
    .option('--residual-blocks <n>', 'residual blocks in encoder and decoder', intArg('residual-blocks'))
    .option('--code-dim <D>', 'latent/code dimension', intArg('code-dim'))
    .option('--codebook-size <K>', 'codes per codebook', intArg('codebook-size'))
    .option('--decay <x>', 'EMA decay of the codebook', numberArg('decay'))
    .option('--commitment <beta>', 'commitment loss weight', numberArg('commitment'))
    .option('--no-kmeans-init', 'keep the random codebook instead of k-means on the first batch')
    .option('--restart-threshold <hits>', 'restart codes used less than this per batch (0 = never)', numberArg('restart-threshold'))
    .option('--steps <n>', 'optimizer steps (default: --epochs)', intArg('steps'))
    .option('--epochs <n>', 'epochs when --steps is not given (default 10)', intArg('epochs'))
    .option('--batch-size <n>', 'images per step (default 64, or the preset\'s)', intArg('batch-size'))
    .option('--lr <x>', 'peak learning rate (default 2e-4, or the preset\'s)', numberArg('lr'))
    .option('--warmup-steps <n>', 'linear warmup steps', intArg('warmup-steps'))
    .option('--seed <n>', 'seed of initialisation, split, shuffling and augmentation', intArg('seed'), 0)
    .option('--checkpoint-every <n>', 'checkpoint every n steps (and at the end / on Ctrl-C)', intArg('checkpoint-every'), 1000)
    .option('--resume', 'continue from the latest checkpoint in the output directory')
    .option('--max-validation-images <n>', 'validation images per epoch (default 1000)', intArg('max-validation-images'))
    .option('--time-limit <minutes>', 'stop training after this many minutes (outputs written as for a finished run)', numberArg('time-limit'))
    .action(async (data: string, _opts: unknown, cmd: Command) => {
      await trainImage(data, cmd.optsWithGlobals<TrainImageFlags>());
    });

  groups.encode
    .command('image')
    .description('encode images into codes (JSON or a .vqt container)')
    .argument('<images...>', 'image files (PNG, JPEG, WebP)')
    .requiredOption('-m, --model <dir>', 'tokenizer directory')
    .requiredOption('-o, --output <path>', 'output file for one image, or a directory (one file per image)')
    .addOption(new Option('--format <format>', 'json, or vqt (binary container); default from the output extension, else vqt').choices(['json', 'vqt']))
    .action(async (inputs: string[], _opts: unknown, cmd: Command) => {
      await encodeImage(inputs, cmd.optsWithGlobals<EncodeImageFlags>());
    });

  groups.decoders.register('image', decodeImageCodes);
}
