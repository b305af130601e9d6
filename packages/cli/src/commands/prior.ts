/**
 * `vqkit train prior` — tokenize a dataset with a trained tokenizer (codes
 * cached on disk by tokenizer id), train a GPT prior over the codes with a
 * progress bar, checkpoints, Ctrl-C and resume, and save the prior with the
 * tokenizer it belongs to.
 *
 * `vqkit sample` — draw samples from a prior (optionally of a class) and
 * decode them with the prior's tokenizer: an image grid PNG, or WAV files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { FileFormatError, InvalidArgumentError } from '@vqkit/core';
import { ImageTokenizer, imageGrid, type RawImage } from '@vqkit/image';
import {
  PriorModel,
  defaultCodesCacheDir,
  loadTokenizedCodes,
  priorDataFromCodes,
  priorTokenizerDir,
  samplePrior,
  trainPrior,
  unigramBitsPerToken,
  type AudioPattern,
  type LabelSource,
  type PriorSample,
  type TokenizedCodes,
} from '@vqkit/prior';
import { encodeWav } from '@vqkit/audio';
import { startEngine, type EngineFlags } from '../engine.js';
import { withInterrupt } from '../interrupt.js';
import { createProgress, formatDuration, type ProgressBar } from '../progress.js';
import type { CommandGroups } from './groups.js';
import { intOption, numberOption } from '../flags.js';

/** Checkpoint file inside the output directory; training resumes from it. */
export const PRIOR_CHECKPOINT_FILE = 'checkpoint.safetensors';
/** Final report inside the output directory. */
export const PRIOR_REPORT_FILE = 'report.json';

interface TrainPriorFlags {
  tokenizer: string;
  data: string;
  valData?: string;
  valFraction: string;
  valLimit: string;
  output: string;
  labels: string;
  classNames?: string;
  unconditional?: boolean;
  classDropout: string;
  limit?: string;
  steps: string;
  batchSize: string;
  lr: string;
  embd: string;
  layers: string;
  heads: string;
  dropout: string;
  context?: string;
  audioPattern: string;
  levels?: string;
  framesPerSecond?: string;
  evalEvery?: string;
  checkpointEvery?: string;
  seed: string;
  cacheDir?: string;
  workers: string;
  fresh?: boolean;
}

interface SampleFlags {
  prior: string;
  output: string;
  n: string;
  class?: string;
  temperature: string;
  topK?: string;
  topP?: string;
  seed: string;
  batch: string;
  frames?: string;
  tokenizer?: string;
  columns?: string;
  codes?: string;
}

/**
 * How the prior records its tokenizer: relative to the prior's directory when
 * both live under the same top-level directory (the pair can move together),
 * else absolute.
 */
function recordedTokenizerDir(priorDir: string, tokenizerDir: string): string {
  const top = (p: string): string => p.split(path.sep)[1] ?? '';
  return top(priorDir) === top(tokenizerDir) ? path.relative(priorDir, tokenizerDir) || '.' : tokenizerDir;
}

/** Tokenizes (or reuses cached codes) with a progress bar. */
async function tokenizeWithProgress(
  label: string,
  tokenizer: string,
  data: string,
  flags: TrainPriorFlags,
  limit: number | undefined,
  signal: AbortSignal,
): Promise<TokenizedCodes> {
  let bar: ProgressBar | undefined;
  const codes = await loadTokenizedCodes({
    tokenizer,
    data,
    cacheDir: flags.cacheDir,
    labels: flags.labels as LabelSource,
    limit,
    workers: intOption('workers', flags.workers, 0),
    signal,
    onProgress: (p) => {
      if (p.itemsDone === p.itemsTotal && bar === undefined) return;
      bar ??= createProgress({ label, total: p.itemsTotal, unit: 'item' });
      bar.update(p.itemsDone, { shards: `${p.shardsDone}/${p.shardCount}`, errors: p.errors });
    },
  });
  bar?.stop();
  console.error(
    `vqkit: ${label}: ${codes.items.length} items ${codes.fromCache ? 'from the codes cache' : 'tokenized'} (${codes.cacheDir})` +
      (codes.errors > 0 ? `; ${codes.errors} unusable item(s) listed in ${path.join(codes.cacheDir, 'errors.json')}` : ''),
  );
  return codes;
}

async function runTrainPrior(flags: TrainPriorFlags, globals: EngineFlags): Promise<void> {
  const labels = flags.labels;
  if (!['auto', 'subfolders', 'none'].includes(labels)) throw new InvalidArgumentError(`--labels must be auto, subfolders or none, got ${JSON.stringify(labels)}`);
  const audioPattern = flags.audioPattern as AudioPattern;
  if (audioPattern !== 'flatten' && audioPattern !== 'delay') throw new InvalidArgumentError(`--audio-pattern must be flatten or delay, got ${JSON.stringify(flags.audioPattern)}`);
  const steps = intOption('steps', flags.steps, 1)!;
  const valFraction = numberOption('val-fraction', flags.valFraction, (n) => n >= 0 && n < 1, 'in [0, 1)')!;
  const classDropout = numberOption('class-dropout', flags.classDropout, (n) => n >= 0 && n <= 1, 'in [0, 1]')!;
  const learningRate = numberOption('lr', flags.lr, (n) => n > 0, '> 0')!;
  const dropout = numberOption('dropout', flags.dropout, (n) => n >= 0 && n < 1, 'in [0, 1)')!;
  const framesPerSecond = numberOption('frames-per-second', flags.framesPerSecond, (n) => n > 0, '> 0');
  const levels = intOption('levels', flags.levels, 1);
  const classNames = flags.classNames?.split(',').map((s) => s.trim());
  const outDir = path.resolve(flags.output);
  await startEngine(globals);

  await withInterrupt(async (signal) => {
    const train = await tokenizeWithProgress('tokenize train', flags.tokenizer, flags.data, flags, intOption('limit', flags.limit, 1), signal);
    const conditional = flags.unconditional ? false : undefined;
    const trainData = priorDataFromCodes(train, { classConditional: conditional, classNames, audioPattern, framesPerSecond, levels });
    let validation: Int32Array[] | undefined;
    if (flags.valData !== undefined) {
      const val = await tokenizeWithProgress('tokenize validation', flags.tokenizer, flags.valData, flags, undefined, signal);
      validation = priorDataFromCodes(val, {
        classConditional: trainData.vocabulary.numClasses > 0,
        numClasses: trainData.vocabulary.numClasses,
        classNames: trainData.metadata.classNames,
        audioPattern,
        levels,
        vocabulary: trainData.vocabulary,
      }).sequences;
    }
    const vocab = trainData.vocabulary;
    const nPositions = intOption('context', flags.context, 1) ?? Math.min(trainData.sequenceLength, 1024);
    const metadata = { ...trainData.metadata, tokenizerDir: recordedTokenizerDir(outDir, train.tokenizer.dir) };
    const unigram = unigramBitsPerToken(trainData.sequences, vocab);
    console.error(
      `vqkit: ${trainData.sequences.length} training sequences of ${trainData.sequenceLength} tokens; vocabulary ${vocab.vocabSize} ` +
        `(${vocab.levels}×${vocab.codebookSize} codes, ${vocab.numClasses} classes); context ${nPositions}; unigram entropy ${unigram.toFixed(3)} bits/token`,
    );
    fs.mkdirSync(outDir, { recursive: true });
    const checkpointPath = path.join(outDir, PRIOR_CHECKPOINT_FILE);
    if (flags.fresh) fs.rmSync(checkpointPath, { force: true });
    else if (fs.existsSync(checkpointPath)) console.error(`vqkit: resuming from ${checkpointPath} (--fresh starts over)`);
    const bar = createProgress({ label: 'train prior', total: steps, unit: 'step' });
    let lastVal: number | undefined;
    const report = await trainPrior({
      model: {
        vocabulary: vocab,
        nPositions,
        nEmbd: intOption('embd', flags.embd, 1),
        nLayer: intOption('layers', flags.layers, 1),
        nHead: intOption('heads', flags.heads, 1),
        dropout,
        seed: intOption('seed', flags.seed, 0),
      },
      metadata,
      train: trainData.sequences,
      validation,
      validationFraction: valFraction,
      maxValidationSequences: intOption('val-limit', flags.valLimit, 1),
      steps,
      batchSize: intOption('batch-size', flags.batchSize, 1),
      learningRate,
      classDropout: vocab.numClasses > 0 ? classDropout : 0,
      windowAlign: vocab.levels,
      seed: intOption('seed', flags.seed, 0),
      evalEvery: intOption('eval-every', flags.evalEvery, 1),
      checkpointEvery: intOption('checkpoint-every', flags.checkpointEvery, 1),
      checkpointPath,
      reportPath: path.join(outDir, PRIOR_REPORT_FILE),
      signal,
      onProgress: (p) => {
        if (p.validation) lastVal = p.validation.bitsPerToken;
        bar.update(p.step, { 'bits/token': p.bitsPerToken, 'val bits/token': lastVal, 'tokens/s': p.tokensPerSecond, lr: p.learningRate });
      },
    });
    bar.stop();
    try {
      if (report.aborted) {
        console.error(`vqkit: interrupted at step ${report.steps}/${steps}; checkpoint saved to ${checkpointPath}. Run the same command again to resume.`);
        process.exitCode = 130;
        return;
      }
      report.model.save(outDir);
      const v = report.validation;
      const lines = [
        `prior saved to ${outDir} (${(report.parameterCount / 1e6).toFixed(2)}M parameters, ${report.steps} steps${report.resumedFromStep > 0 ? ` (resumed at ${report.resumedFromStep})` : ''}, ${formatDuration(report.elapsedSeconds)} this run, ${report.tokensPerSecond.toFixed(0)} tokens/s)`,
        `  tokenizer ${train.tokenizer.id} (${metadata.tokenizerDir})${metadata.classNames ? `; classes: ${metadata.classNames.join(', ')}` : ''}`,
        `  final training loss ${(report.finalLoss / Math.LN2).toFixed(3)} bits/token`,
      ];
      if (v) {
        const rates = [v.bitsPerPixel !== undefined ? `${v.bitsPerPixel.toFixed(4)} bits/pixel` : '', v.bitsPerSecond !== undefined ? `${v.bitsPerSecond.toFixed(0)} bits/s` : '']
          .filter(Boolean)
          .join(', ');
        lines.push(`  validation: ${v.bitsPerToken.toFixed(3)} bits/token${rates ? ` = ${rates}` : ''} over ${v.tokens} tokens (unigram entropy ${unigram.toFixed(3)} bits/token)`);
      }
      console.log(lines.join('\n'));
    } finally {
      report.model.dispose();
    }
  });
}

/** Parses `--class`: a class index, or a name the prior knows. */
function resolveClass(prior: PriorModel, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const names = prior.metadata.classNames ?? [];
  const byName = names.indexOf(value);
  if (byName >= 0) return byName;
  const n = Number(value);
  const classes = prior.config.vocabulary.numClasses;
  if (Number.isInteger(n) && n >= 0 && n < classes) return n;
  if (classes === 0) throw new InvalidArgumentError('this prior is unconditional (trained without class tokens); drop --class');
  throw new InvalidArgumentError(
    `unknown class ${JSON.stringify(value)}; give an index in [0, ${classes})${names.length ? ` or one of: ${names.join(', ')}` : ''}`,
  );
}

/** What an audio tokenizer must offer `vqkit sample` (the audio package's tokenizer, loaded by directory). */
interface AudioDecoder {
  readonly sampleRate: number;
  decode(codes: { codes: Int32Array; frames: number; levels: number }): Float32Array;
  dispose(): void;
}

async function loadAudioDecoder(dir: string): Promise<AudioDecoder> {
  const audio = (await import('@vqkit/audio')) as unknown as { AudioTokenizer?: { load(dir: string): Promise<AudioDecoder> } };
  if (audio.AudioTokenizer === undefined) throw new InvalidArgumentError('this vqkit has no audio tokenizer to decode audio samples with');
  return audio.AudioTokenizer.load(dir);
}

async function runSample(flags: SampleFlags, globals: EngineFlags): Promise<void> {
  const count = intOption('n', flags.n, 1)!;
  const batch = intOption('batch', flags.batch, 1)!;
  const temperature = numberOption('temperature', flags.temperature, (n) => n >= 0, '≥ 0')!;
  const topK = intOption('top-k', flags.topK, 1);
  const topP = numberOption('top-p', flags.topP, (n) => n > 0 && n <= 1, 'in (0, 1]');
  const seed = intOption('seed', flags.seed, 0)!;
  await startEngine(globals);
  const priorDir = path.resolve(flags.prior);
  const prior = PriorModel.load(priorDir);
  try {
    const classIndex = resolveClass(prior, flags.class);
    const modality = prior.metadata.modality ?? 'generic';
    const tokenizerDir = flags.tokenizer !== undefined ? path.resolve(flags.tokenizer) : priorTokenizerDir(priorDir, prior.metadata);
    if (tokenizerDir === undefined) throw new InvalidArgumentError(`${priorDir} records no tokenizer directory; pass --tokenizer <dir>`);
    if (modality !== 'image' && modality !== 'audio') throw new InvalidArgumentError(`cannot decode samples of a ${modality} prior; only image and audio priors`);
    const frames = intOption('frames', flags.frames, 1);
    if (modality === 'audio' && frames === undefined) throw new InvalidArgumentError('audio priors need --frames (code frames per sample)');

    const samples: PriorSample[] = [];
    const bar = createProgress({ label: 'sample', total: count, unit: 'sample' });
    const started = performance.now();
    await withInterrupt(async (signal) => {
      for (let start = 0; start < count && !signal.aborted; start += batch) {
        const n = Math.min(batch, count - start);
        try {
          // firstRow: sample i is the same whatever --batch is.
          samples.push(...samplePrior(prior, { count: n, classIndex, temperature, topK, topP, seed, firstRow: start, frames, signal }));
        } catch (err) {
          if (signal.aborted) break;
          throw err;
        }
        bar.update(samples.length);
      }
    });
    bar.stop();
    if (samples.length < count) {
      console.error(`vqkit: interrupted after ${samples.length} samples; nothing written`);
      process.exitCode = 130;
      return;
    }
    const seconds = (performance.now() - started) / 1000;
    const tokens = samples.reduce((n, s) => n + s.tokens.length, 0);
    console.error(`vqkit: ${count} samples, ${tokens} tokens in ${seconds.toFixed(1)} s (${(tokens / seconds).toFixed(0)} tokens/s)`);
    if (flags.codes !== undefined) {
      const vocab = prior.config.vocabulary;
      const prefix = classIndex === undefined ? vocab.bosId : vocab.firstClassId + classIndex;
      // sequence: the prior's tokens, prefix (class token or BOS) first.
      const json = {
        prior: priorDir,
        tokenizer: prior.metadata.tokenizer,
        modality,
        classIndex: classIndex ?? null,
        samples: samples.map((s) => ({ codes: Array.from(s.codes), frames: s.frames, sequence: [prefix, ...s.tokens] })),
      };
      fs.writeFileSync(flags.codes, `${JSON.stringify(json)}\n`);
    }

    if (modality === 'image') {
      const tokenizer = await ImageTokenizer.load(tokenizerDir);
      try {
        if (prior.metadata.tokenizer !== undefined && tokenizer.id !== prior.metadata.tokenizer) {
          throw new FileFormatError(`holds tokenizer ${tokenizer.id}, but the prior was trained on codes of tokenizer ${prior.metadata.tokenizer}`, tokenizerDir);
        }
        const grid = prior.metadata.grid!;
        const levels = prior.config.vocabulary.levels;
        const shape = levels > 1 ? [grid.height, grid.width, levels] : [grid.height, grid.width];
        const images: RawImage[] = samples.map((s) => tokenizer.decode({ codes: s.codes, shape }));
        const columns = intOption('columns', flags.columns, 1) ?? Math.ceil(Math.sqrt(count));
        const rows: RawImage[][] = [];
        for (let i = 0; i < images.length; i += columns) rows.push(images.slice(i, i + columns));
        const className = classIndex === undefined ? undefined : (prior.metadata.classNames?.[classIndex] ?? `class ${classIndex}`);
        fs.mkdirSync(path.dirname(path.resolve(flags.output)), { recursive: true });
        fs.writeFileSync(flags.output, await imageGrid(rows, className ? { title: className } : {}));
        console.log(`wrote ${count} samples${className ? ` of ${className}` : ''} to ${flags.output}`);
      } finally {
        tokenizer.dispose();
      }
      return;
    }
    const decoder = await loadAudioDecoder(tokenizerDir);
    try {
      const levels = prior.config.vocabulary.levels;
      const out = path.resolve(flags.output);
      const single = count === 1 && out.toLowerCase().endsWith('.wav');
      if (!single) fs.mkdirSync(out, { recursive: true });
      samples.forEach((s, i) => {
        const wav = encodeWav(decoder.decode({ codes: s.codes, frames: s.frames!, levels }), { sampleRate: decoder.sampleRate });
        fs.writeFileSync(single ? out : path.join(out, `sample-${String(i).padStart(3, '0')}.wav`), wav);
      });
      console.log(`wrote ${count} WAV file(s) to ${out}`);
    } finally {
      decoder.dispose();
    }
  } finally {
    prior.dispose();
  }
}

/** `vqkit train prior` and `vqkit sample`. */
export function registerPrior(program: Command, groups: CommandGroups): void {
  groups.train
    .command('prior')
    .description('train a GPT prior over the codes a tokenizer gives a dataset (codes cached by tokenizer id; Ctrl-C checkpoints, rerun resumes)')
    .requiredOption('--tokenizer <dir>', 'trained tokenizer directory')
    .requiredOption('--data <path>', 'training data: a folder, an IDX(.gz) file (labels from its labels file) or a list file (path[<TAB>label] per line)')
    .requiredOption('-o, --output <dir>', 'prior directory (config.json, model.safetensors, checkpoint, report.json)')
    .option('--val-data <path>', 'held-out data (default: --val-fraction of --data)')
    .option('--val-fraction <f>', 'fraction of --data held out when --val-data is not given', '0.05')
    .option('--val-limit <n>', 'validate on at most n held-out sequences (validation runs every --eval-every steps)', '2000')
    .option('--labels <source>', 'class labels: auto (IDX / list files), subfolders (root/<class>/file), none', 'auto')
    .option('--class-names <a,b,…>', 'class names, label i ↔ name i (used by `vqkit sample --class NAME`)')
    .option('--unconditional', 'ignore labels: no class tokens')
    .option('--class-dropout <p>', 'fraction of sequences trained without their class, so the prior is also unconditional', '0.1')
    .option('--limit <n>', 'use only the first n items of --data')
    .option('--steps <n>', 'optimisation steps', '2000')
    .option('--batch-size <n>', 'sequences per step', '32')
    .option('--lr <x>', 'peak learning rate (warmup + cosine)', '1e-3')
    .option('--embd <n>', 'model width (n_embd)', '128')
    .option('--layers <n>', 'transformer blocks (n_layer)', '4')
    .option('--heads <n>', 'attention heads (n_head)', '4')
    .option('--dropout <p>', 'dropout while training', '0')
    .option('--context <n>', 'context length (n_positions); default: one whole image / at most 1024 audio tokens')
    .option('--audio-pattern <p>', 'residual audio codes: flatten (frame by frame) or delay', 'flatten')
    .option('--levels <n>', 'audio: model only the first n residual levels (a lower-bitrate prior; samples decode from them)')
    .option('--frames-per-second <x>', "audio code frames per second, for bits per second (default: the tokenizer's frame rate)")
    .option('--eval-every <n>', 'validation interval in steps (default: steps / 10)')
    .option('--checkpoint-every <n>', 'checkpoint interval in steps (default: the validation interval)')
    .option('--seed <n>', 'seed of initialisation, data order and dropout', '0')
    .option('--cache-dir <dir>', `codes cache (default ${defaultCodesCacheDir()}, env VQKIT_CACHE_DIR)`)
    .option('--workers <n>', 'worker threads for tokenizing (0 = this thread)', '0')
    .option('--fresh', 'ignore an existing checkpoint and start over')
    .action(async (flags: TrainPriorFlags, cmd: Command) => {
      await runTrainPrior(flags, cmd.optsWithGlobals<EngineFlags>());
    });

  program
    .command('sample')
    .description('sample from a prior and decode with its tokenizer: an image grid PNG, or WAV files')
    .requiredOption('--prior <dir>', 'prior directory (from `vqkit train prior`)')
    .requiredOption('-o, --output <path>', 'image priors: grid .png; audio priors: a directory of WAV files (or a .wav for --n 1)')
    .option('--n <count>', 'samples', '16')
    .option('--class <index|name>', 'condition on a class (index or a name the prior knows)')
    .option('--temperature <t>', 'softmax temperature (0 = greedy)', '1')
    .option('--top-k <k>', 'sample among the k most likely codes')
    .option('--top-p <p>', 'nucleus sampling: the smallest set of codes with probability ≥ p')
    .option('--seed <n>', 'seed; the same seed gives the same samples', '0')
    .option('--batch <n>', 'samples generated together', '16')
    .option('--frames <n>', 'audio priors: code frames per sample')
    .option('--columns <n>', 'image grid columns (default √n)')
    .option('--tokenizer <dir>', 'decode with this tokenizer instead of the one the prior records')
    .option('--codes <file.json>', 'also write the sampled codes as JSON')
    .action(async (flags: SampleFlags, cmd: Command) => {
      await runSample(flags, cmd.optsWithGlobals<EngineFlags>());
    });
}
