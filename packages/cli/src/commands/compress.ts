/**
 * `vqkit compress IMAGE -m DIR -o OUT.vqt`, `vqkit decompress IN.vqt -m DIR -o OUT.png`
 * and `vqkit fit-entropy -m DIR --data PATH`: image compression with a
 * tokenizer and its learned entropy model (see @vqkit/image compress.ts).
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { InvalidArgumentError, readContainerHeader, type EntropyModelSpec } from '@vqkit/core';
import {
  compressImage,
  decompressImage,
  fitEntropyModel,
  ImageDataset,
  ImageTokenizer,
  loadEntropyModel,
  psnr,
  saveImage,
  ssim,
  toUint8Image,
  type ImageEntropyModelChoice,
  type ImageF32,
} from '@vqkit/image';
import { PriorModel, priorEntropyModel, type PriorEntropyModel } from '@vqkit/prior';
import { startEngine, type EngineFlags } from '../engine.js';
import { loadImageTokenizer } from '../inference.js';
import { withInterrupt } from '../interrupt.js';
import { createProgress } from '../progress.js';
import type { CommandGroups } from './groups.js';
import { intOption } from '../flags.js';

const CHOICES: readonly ImageEntropyModelChoice[] = ['auto', 'fixed-length', 'uniform', 'adaptive', 'learned', 'prior'];

interface PriorFlags {
  prior?: string;
  priorClass?: string;
}

function loadPrior(flags: PriorFlags): PriorEntropyModel | undefined {
  if (flags.prior === undefined) return undefined;
  const prior = PriorModel.load(flags.prior);
  return priorEntropyModel(prior, { classIndex: intOption('prior-class', flags.priorClass, 0) });
}

function describeKind(kind: string): string {
  if (kind === 'neighbour' || kind === 'static') return `learned (${kind})`;
  if (kind === 'external') return 'prior';
  return kind;
}

function quality(original: ImageF32, decoded: ImageF32): { psnr: number; ssim: number | undefined } {
  const a = toUint8Image(original);
  const b = toUint8Image(decoded);
  let s: number | undefined;
  try {
    s = ssim(a, b, original);
  } catch {
    s = undefined; // smaller than the SSIM window
  }
  return { psnr: psnr(a, b), ssim: s };
}

export function registerCompress(program: Command, _groups: CommandGroups): void {
  program
    .command('compress')
    .description('compress an image into a .vqt token container with a tokenizer (and its learned entropy model)')
    .argument('<image>', 'image file (PNG, JPEG, WebP, …)')
    .requiredOption('-m, --model <dir>', 'tokenizer directory (config.json, model.safetensors, optional entropy.bin)')
    .requiredOption('-o, --output <file>', 'output container (.vqt)')
    .option('-e, --entropy <model>', `entropy model: ${CHOICES.join(', ')} (auto = smallest file)`, 'auto')
    .option('--prior <dir>', 'Transformer prior trained on this tokenizer\'s codes (entropy model "prior", also tried by auto)')
    .option('--prior-class <n>', 'class to condition the prior on (default unconditional)')
    .action(async (input: string, opts: { model: string; output: string; entropy: string } & PriorFlags, cmd: Command) => {
      if (!CHOICES.includes(opts.entropy as ImageEntropyModelChoice)) throw new InvalidArgumentError(`--entropy must be one of ${CHOICES.join(', ')}, got ${JSON.stringify(opts.entropy)}`);
      await startEngine(cmd.optsWithGlobals<EngineFlags>());
      const tokenizer = await loadImageTokenizer(opts.model);
      const learnedModel = loadEntropyModel(opts.model);
      if (opts.entropy === 'learned' && learnedModel === undefined) {
        throw new InvalidArgumentError(`${opts.model} has no learned entropy model (entropy.bin); create one with \`vqkit fit-entropy -m ${opts.model} --data <images>\``);
      }
      const prior = loadPrior(opts);
      try {
        const result = await compressImage(input, tokenizer, { entropyModel: opts.entropy as ImageEntropyModelChoice, learnedModel, prior });
        await writeFile(opts.output, result.bytes);
        const q = quality(result.image, tokenizer.decode(result.codes));
        const s = result.stats;
        const original = (await stat(input)).size;
        const lines = [
          `${input} → ${opts.output}`,
          `  image            ${s.width}x${s.height}, ${result.image.channels} channel(s), codes [${s.codeShape.join('x')}]`,
          `  original bytes   ${original}`,
          `  compressed bytes ${s.bytes} (payload ${s.payloadBytes} + header/checksum ${s.overheadBytes}), ${(original / s.bytes).toFixed(1)}x smaller`,
          `  bpp              ${s.bitsPerPixel.toFixed(4)} (payload only ${s.payloadBitsPerPixel.toFixed(4)})`,
          `  PSNR             ${q.psnr.toFixed(2)} dB${q.ssim === undefined ? '' : `, SSIM ${q.ssim.toFixed(4)}`}`,
          `  entropy model    ${describeKind(s.entropyModel)}${s.candidates.length > 1 ? ` (tried ${s.candidates.map((c) => `${describeKind(c.entropyModel)} ${c.bytes} B`).join(', ')})` : ''}`,
        ];
        console.log(lines.join('\n'));
      } finally {
        prior?.dispose();
        tokenizer.dispose();
      }
    });

  program
    .command('decompress')
    .description('decode a .vqt image container back into an image')
    .argument('<container>', '.vqt file written by `vqkit compress`')
    .requiredOption('-m, --model <dir>', 'the tokenizer directory it was compressed with')
    .requiredOption('-o, --output <file>', 'output image (.png, .jpg, .webp)')
    .option('--prior <dir>', 'the prior it was compressed with, if any')
    .option('--prior-class <n>', 'the class the prior was conditioned on')
    .action(async (input: string, opts: { model: string; output: string } & PriorFlags, cmd: Command) => {
      const bytes = new Uint8Array(await readFile(input));
      // Fail fast on a damaged or foreign file before starting the engine and loading weights.
      const header = readContainerHeader(bytes);
      if (header.entropyModel === 'external' && opts.prior === undefined) throw new InvalidArgumentError(`${input} was coded with a prior; pass it with --prior <dir>`);
      await startEngine(cmd.optsWithGlobals<EngineFlags>());
      const tokenizer = await loadImageTokenizer(opts.model);
      const prior = loadPrior(opts);
      try {
        const learnedModel: EntropyModelSpec | undefined = header.entropyModel === 'static' || header.entropyModel === 'neighbour' ? loadEntropyModel(opts.model) : undefined;
        const { image } = await decompressImage(bytes, tokenizer, { learnedModel, prior });
        await saveImage(opts.output, image);
        console.log(`${input} → ${opts.output} (${image.width}x${image.height}, ${bytes.length} bytes, ${((8 * bytes.length) / (image.width * image.height)).toFixed(4)} bpp)`);
      } finally {
        prior?.dispose();
        tokenizer.dispose();
      }
    });

  program
    .command('fit-entropy')
    .description("fit a tokenizer's learned entropy model on images and save it as entropy.bin in the tokenizer directory")
    .requiredOption('-m, --model <dir>', 'tokenizer directory')
    .requiredOption('--data <path>', 'folder of images, or an IDX image file (.gz ok; e.g. Fashion-MNIST train-images-idx3-ubyte.gz)')
    .option('--context <mode>', 'left-up, left, up, or none (plain code frequencies)', 'left-up')
    .option('--max-images <n>', 'fit on at most this many images', '60000')
    .option('--crop <size>', 'folder images: fit on centre crops of this size (needed when sizes differ)')
    .action(async (opts: { model: string; data: string; context: string; maxImages: string; crop?: string }, cmd: Command) => {
      const context = opts.context as 'left-up' | 'left' | 'up' | 'none';
      if (!['left-up', 'left', 'up', 'none'].includes(context)) throw new InvalidArgumentError(`--context must be left-up, left, up or none, got ${JSON.stringify(opts.context)}`);
      const maxImages = intOption('max-images', opts.maxImages, 1)!;
      await startEngine(cmd.optsWithGlobals<EngineFlags>());
      const tokenizer = await ImageTokenizer.load(opts.model);
      const isIdx = /idx\d?-ubyte(\.gz)?$|\.idx(\.gz)?$/.test(opts.data) || (await stat(opts.data)).isFile();
      const dataset = await ImageDataset.load({
        source: isIdx ? { kind: 'idx', images: opts.data, limit: maxImages } : { kind: 'folder', path: opts.data },
        channels: tokenizer.config.preprocessing.channels,
        ...(opts.crop === undefined ? {} : { cropSize: intOption('crop', opts.crop, 1) }),
      });
      const total = Math.min(maxImages, dataset.train.imageCount);
      const bar = createProgress({ label: 'fit-entropy', total, unit: 'img' });
      try {
        // Ctrl-C stops encoding; the model is fitted and saved on the images encoded so far.
        const { info } = await withInterrupt((signal) => fitEntropyModel(tokenizer, dataset, { context, maxImages, outputDir: opts.model, signal, onProgress: (n) => bar.update(n) }));
        bar.stop();
        const b = info.bitsPerCode;
        console.log(
          `${opts.model}/entropy.bin: ${info.kind}${info.context ? ` (${info.context})` : ''} model, ${info.modelBytes} bytes, fitted on ${info.images} images (${info.codes} codes); ` +
            `bits/code: fixed-length ${b.fixedLength.toFixed(3)}, adaptive ${b.adaptive.toFixed(3)}, learned ${b.learned.toFixed(3)}`,
        );
      } finally {
        tokenizer.dispose();
      }
    });
}
