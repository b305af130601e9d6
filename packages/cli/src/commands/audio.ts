/**
 * Audio tokenizer commands:
 *
 *   vqkit train audio --data DIR -o MODEL [--fsdd] [options]
 *   vqkit encode audio IN.wav -m MODEL [--bitrate 1.6k | --levels N] -o OUT.vqt
 *   vqkit decode OUT.vqt -m MODEL -o OUT.wav      (handler for audio codes)
 *
 * Any WAV (8–48 kHz, PCM or float, mono or multichannel) is accepted; it is
 * downmixed and resampled to the model's rate. Every command states the
 * bitrate: frame rate × levels × log2 K. Encode and decode run on ONNX
 * Runtime when the model directory holds a current `vqkit export onnx`
 * export (VQKIT_RUNTIME=auto|onnx|tfjs, as for images) and print the choice.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { FileFormatError, InvalidArgumentError, writeFileAtomic } from '@vqkit/core';
import {
  AudioDataset,
  audioCodeSpace,
  formatBitrate,
  packAudioCodes,
  parseBitrate,
  trainAudioTokenizer,
  tryParseFsddName,
  unpackAudioCodes,
  validateAudioTokenizerConfig,
  writeWav,
  type AudioTokenizerConfig,
  type AudioTokenizerConfigInput,
  type AudioValidationResult,
  type EncodedAudio,
  type SkippedAudioFile,
} from '@vqkit/audio';
import { startEngine, type EngineFlags } from '../engine.js';
import { loadAudioTokenizer } from '../inference.js';
import { withInterrupt } from '../interrupt.js';
import { createProgress, formatDuration } from '../progress.js';
import type { CommandGroups, DecodeRequest } from './groups.js';
import { intArg, intListArg, numberArg } from '../flags.js';

interface TrainAudioFlags extends EngineFlags {
  data: string;
  output: string;
  validation?: string;
  fsdd?: boolean;
  config?: string;
  sampleRate?: number;
  strides?: number[];
  channels?: number;
  maxChannels?: number;
  residualUnits?: number;
  latentDim?: number;
  levels?: number;
  codebookSize?: number;
  steps?: number;
  batchSize?: number;
  segmentSeconds?: number;
  lr?: number;
  warmupSteps?: number;
  quantizerDropout?: number;
  seed: number;
  checkpointEvery: number;
  validateEvery: number;
  validationClips?: number;
  resume?: boolean;
  timeLimit?: number;
  onCorrupt: 'skip' | 'fail';
}

function configFromFlags(flags: TrainAudioFlags): AudioTokenizerConfig | AudioTokenizerConfigInput {
  let base: AudioTokenizerConfigInput = {};
  if (flags.config) {
    try {
      base = validateAudioTokenizerConfig(JSON.parse(fs.readFileSync(flags.config, 'utf8')), flags.config);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw err;
      throw new FileFormatError(`cannot read a tokenizer config (${(err as Error).message})`, flags.config, { cause: err });
    }
  }
  const architecture = { ...base.architecture };
  if (flags.strides) architecture.strides = flags.strides;
  if (flags.channels !== undefined) architecture.channels = flags.channels;
  if (flags.maxChannels !== undefined) architecture.maxChannels = flags.maxChannels;
  if (flags.residualUnits !== undefined) architecture.residualUnits = flags.residualUnits;
  if (flags.latentDim !== undefined) architecture.latentDim = flags.latentDim;
  const quantizer = { ...base.quantizer };
  if (flags.levels !== undefined) quantizer.levels = flags.levels;
  if (flags.codebookSize !== undefined) quantizer.codebookSize = flags.codebookSize;
  return { sampleRate: flags.sampleRate ?? base.sampleRate, architecture, quantizer };
}

function wavFiles(dir: string): string[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new FileFormatError('training data must be a folder of WAV files', dir);
  const files = (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.toLowerCase().endsWith('.wav')).map((f) => path.join(dir, f)).sort();
  if (files.length === 0) throw new FileFormatError('no .wav files in the training folder', dir);
  return files;
}

function describeValidation(v: AudioValidationResult): string {
  const rates = v.bitrates.map(
    (b) => `${formatBitrate(b.bitrate)}: SI-SNR ${b.siSnrDb.toFixed(2)} dB, LSD ${b.logSpectralDistanceDb.toFixed(2)} dB, MCD ${b.melCepstralDistortionDb.toFixed(2)} dB`,
  );
  return `${v.clips} clips, codebook usage ${(100 * v.usedFraction).toFixed(1)}% | ${rates.join(' | ')}`;
}

async function trainAudio(flags: TrainAudioFlags): Promise<void> {
  await startEngine(flags);
  const config = configFromFlags(flags);
  const sampleRate = config.sampleRate ?? 8000;
  let files = wavFiles(flags.data);
  let validationFiles: string[] | undefined = flags.validation ? wavFiles(flags.validation) : undefined;
  if (flags.fsdd) {
    // FSDD: takes 0–4 of every digit and speaker are the official test split.
    const isTest = (f: string): boolean => tryParseFsddName(f)?.split === 'test';
    validationFiles ??= files.filter(isTest);
    files = files.filter((f) => !isTest(f));
  }
  const skipped: SkippedAudioFile[] = [];
  const loadOptions = { sampleRate, onCorrupt: flags.onCorrupt, onSkip: (s: SkippedAudioFile) => skipped.push(s) };
  const train = await AudioDataset.load(files, loadOptions);
  const validation = validationFiles ? await AudioDataset.load(validationFiles, loadOptions) : undefined;
  for (const s of skipped) console.error(`vqkit: warning: skipped ${s.path}: ${s.reason}`);
  console.error(
    `vqkit: ${train.size} training clips (${train.durationSeconds.toFixed(0)} s at ${sampleRate} Hz)` +
      (validation ? `, ${validation.size} validation clips` : ' (validating on training clips)'),
  );

  let bar: ReturnType<typeof createProgress> | undefined;
  await withInterrupt(async (signal) => {
    try {
      const result = await trainAudioTokenizer({
        dataset: train,
        validation,
        outputDir: flags.output,
        config,
        steps: flags.steps,
        batchSize: flags.batchSize,
        segmentSeconds: flags.segmentSeconds,
        learningRate: flags.lr,
        warmupSteps: flags.warmupSteps,
        quantizerDropout: flags.quantizerDropout,
        seed: flags.seed,
        checkpointEvery: flags.checkpointEvery,
        validateEvery: flags.validateEvery,
        validationClips: flags.validationClips,
        resume: flags.resume,
        timeLimitSeconds: flags.timeLimit === undefined ? undefined : flags.timeLimit * 60,
        signal,
        onProgress: (p) => {
          bar ??= createProgress({ label: 'train', total: p.totalSteps, unit: 'step' });
          bar.update(p.step, {
            loss: p.loss,
            stft: Number(p.stft.toFixed(3)),
            mel: Number(p.mel.toFixed(3)),
            levels: p.levels,
            ppl: Number(p.perplexity.toFixed(1)),
            speed: `${p.audioSecondsPerSecond.toFixed(1)}x`,
            left: formatDuration(p.etaSeconds),
          });
        },
        onValidation: (v) => {
          bar?.stop();
          bar = undefined;
          console.error(`vqkit: validation after step ${v.step}: ${describeValidation(v)}`);
        },
      });
      bar?.stop();
      if (result.resumedFrom > 0) console.error(`vqkit: resumed from step ${result.resumedFrom}`);
      if (result.aborted) {
        console.error(`vqkit: stopped at step ${result.step}/${result.totalSteps}; checkpoint ${result.checkpoint}`);
        console.error('vqkit: continue with the same command plus --resume');
        process.exitCode = 130;
        return;
      }
      if (result.stoppedEarly) console.error(`vqkit: time limit reached at step ${result.step}/${result.totalSteps} (continue with --resume)`);
      console.error(`vqkit: tokenizer written to ${result.tokenizerDir} (report in ${path.join(result.tokenizerDir, 'report')})`);
    } finally {
      bar?.stop();
    }
  });
}

interface EncodeAudioFlags extends EngineFlags {
  model: string;
  output: string;
  bitrate?: string;
  levels?: number;
  format?: 'vqt' | 'json';
  chunkSeconds?: number;
}

/** JSON codes file (`--format json`): readable by anything, decodable by `vqkit decode`. */
interface AudioCodesJson {
  format: 'vqkit.audio-codes';
  version: 1;
  modality: 'audio';
  tokenizerId: string;
  sampleRate: number;
  frames: number;
  levels: number;
  length: number;
  bitrate: number;
  /** Row-major [frames][levels]. */
  codes: number[][];
}

async function encodeAudio(input: string, flags: EncodeAudioFlags): Promise<void> {
  if (flags.bitrate !== undefined && flags.levels !== undefined) throw new InvalidArgumentError('give --bitrate or --levels, not both');
  await startEngine(flags);
  const tokenizer = await loadAudioTokenizer(flags.model);
  try {
    const encoded = await tokenizer.encode(input, {
      bitrate: flags.bitrate === undefined ? undefined : parseBitrate(flags.bitrate),
      levels: flags.levels,
      chunkSeconds: flags.chunkSeconds,
    });
    const space = audioCodeSpace(tokenizer);
    const nominal = tokenizer.bitrate(encoded.levels);
    const format = flags.format ?? (path.extname(flags.output).toLowerCase() === '.json' ? 'json' : 'vqt');
    let bytes: Uint8Array;
    let detail: string;
    if (format === 'json') {
      const rows: number[][] = [];
      for (let f = 0; f < encoded.frames; f++) rows.push(Array.from(encoded.codes.subarray(f * encoded.levels, (f + 1) * encoded.levels)));
      const doc: AudioCodesJson = {
        format: 'vqkit.audio-codes',
        version: 1,
        modality: 'audio',
        tokenizerId: space.tokenizerId,
        sampleRate: encoded.sampleRate,
        frames: encoded.frames,
        levels: encoded.levels,
        length: encoded.length,
        bitrate: nominal,
        codes: rows,
      };
      bytes = new TextEncoder().encode(`${JSON.stringify(doc)}\n`);
      detail = 'JSON';
    } else {
      const packed = packAudioCodes(encoded, space);
      bytes = packed.bytes;
      detail = `${formatBitrate(packed.bitsPerSecond)} actual incl. container`;
    }
    fs.mkdirSync(path.dirname(path.resolve(flags.output)), { recursive: true });
    writeFileAtomic(flags.output, bytes);
    const seconds = encoded.length / encoded.sampleRate;
    console.log(
      `${input} → ${flags.output}: ${seconds.toFixed(2)} s → ${encoded.frames} frames × ${encoded.levels} levels at ${formatBitrate(nominal)} nominal; ${bytes.length} bytes (${detail})`,
    );
  } finally {
    tokenizer.dispose();
  }
}

function parseAudioCodesJson(bytes: Uint8Array, source: string, tokenizerId: string): EncodedAudio {
  let doc: Partial<AudioCodesJson>;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes)) as Partial<AudioCodesJson>;
  } catch (err) {
    throw new FileFormatError(`not valid JSON (${(err as Error).message})`, source, { cause: err });
  }
  if (doc.format !== 'vqkit.audio-codes' || !Array.isArray(doc.codes)) throw new FileFormatError('not a vqkit audio codes JSON file', source);
  if (doc.tokenizerId !== tokenizerId) throw new InvalidArgumentError(`${source} was made by tokenizer ${doc.tokenizerId}, but the model is tokenizer ${tokenizerId}`);
  const levels = Number(doc.levels);
  const codes = Int32Array.from(doc.codes.flat());
  return { codes, frames: doc.codes.length, levels, length: Number(doc.length), sampleRate: Number(doc.sampleRate) };
}

/** `vqkit decode` handler for audio codes (.vqt or JSON) → WAV at the model's rate. */
export async function decodeAudioCodes(request: DecodeRequest): Promise<void> {
  const model = request.options.model as string;
  const output = request.options.output as string;
  if (path.extname(output).toLowerCase() !== '.wav') throw new InvalidArgumentError(`audio codes decode to a .wav file, got ${output}`);
  await startEngine(request.globals as EngineFlags);
  const tokenizer = await loadAudioTokenizer(model);
  try {
    const space = audioCodeSpace(tokenizer);
    const encoded = request.bytes[0] === 0x7b ? parseAudioCodesJson(request.bytes, request.input, space.tokenizerId) : unpackAudioCodes(request.bytes, space).codes;
    const samples = await tokenizer.decodeAsync(encoded);
    fs.mkdirSync(path.dirname(path.resolve(output)), { recursive: true });
    await writeWav(output, samples, { sampleRate: tokenizer.sampleRate, format: 'pcm16' });
    console.log(
      `${request.input} → ${output}: ${encoded.frames} frames × ${encoded.levels} levels (${formatBitrate(tokenizer.bitrate(encoded.levels))}) → ${(samples.length / tokenizer.sampleRate).toFixed(2)} s at ${tokenizer.sampleRate} Hz`,
    );
  } finally {
    tokenizer.dispose();
  }
}

export function registerAudio(_program: Command, groups: CommandGroups): void {
  groups.train
    .command('audio')
    .description('train an audio tokenizer (conv encoder/decoder + residual VQ) on a folder of WAV files')
    .requiredOption('--data <dir>', 'folder of WAV files (searched recursively; any rate/channels, resampled to --sample-rate)')
    .requiredOption('-o, --output <dir>', 'tokenizer directory (config.json, model.safetensors, checkpoints/, report/)')
    .option('--validation <dir>', 'validation WAV folder (default: the first training clips)')
    .option('--fsdd', 'the data is the Free Spoken Digit Dataset: train on takes 5+, validate on takes 0–4 (the test split)')
    .option('--config <file>', 'start from this config.json')
    .option('--sample-rate <hz>', 'model sample rate (default 8000)', intArg('sample-rate'))
    .option('--strides <list>', 'encoder strides, e.g. 2,4,4,5 (hop = product; default 160)', intListArg('strides'))
    .option('--channels <n>', 'channels after the input conv, doubled per stage (default 16)', intArg('channels'))
    .option('--max-channels <n>', 'channel cap (default 128)', intArg('max-channels'))
    .option('--residual-units <n>', 'residual units per stage (default 1)', intArg('residual-units'))
    .option('--latent-dim <n>', 'latent dimension (default 64)', intArg('latent-dim'))
    .option('--levels <n>', 'residual quantizer levels (default 6)', intArg('levels'))
    .option('--codebook-size <K>', 'codes per level (default 256)', intArg('codebook-size'))
    .option('--steps <n>', 'optimizer steps (default 2000)', intArg('steps'))
    .option('--batch-size <n>', 'segments per step (default 8)', intArg('batch-size'))
    .option('--segment-seconds <s>', 'training segment length (default 0.5)', numberArg('segment-seconds'))
    .option('--lr <x>', 'peak learning rate (default 1e-3)', numberArg('lr'))
    .option('--warmup-steps <n>', 'linear warmup steps', intArg('warmup-steps'))
    .option('--quantizer-dropout <p>', 'probability of training a step with a random level count (default 0.5)', numberArg('quantizer-dropout'))
    .option('--seed <n>', 'seed of initialisation, batches and level draws', intArg('seed'), 0)
    .option('--checkpoint-every <n>', 'checkpoint every n steps (and at the end / on Ctrl-C)', intArg('checkpoint-every'), 500)
    .option('--validate-every <n>', 'validate every n steps (0 = only at the end)', intArg('validate-every'), 500)
    .option('--validation-clips <n>', 'validation clips (default 32)', intArg('validation-clips'))
    .option('--resume', 'continue from the latest checkpoint in the output directory')
    .option('--time-limit <minutes>', 'stop after this many minutes (outputs written; continue with --resume)', numberArg('time-limit'))
    .option('--on-corrupt <policy>', 'unreadable files: skip (reported) or fail', 'skip')
    .action(async (_opts: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<TrainAudioFlags>();
      if (flags.onCorrupt !== 'skip' && flags.onCorrupt !== 'fail') throw new InvalidArgumentError(`--on-corrupt must be skip or fail, got ${flags.onCorrupt}`);
      await trainAudio(flags);
    });

  groups.encode
    .command('audio')
    .description('encode a WAV file into residual codes (.vqt container or JSON)')
    .argument('<input>', 'WAV file (any rate, PCM or float, mono or multichannel)')
    .requiredOption('-m, --model <dir>', 'audio tokenizer directory')
    .requiredOption('-o, --output <path>', 'output .vqt (or .json) file')
    .option('--bitrate <rate>', 'target bitrate, e.g. 1.6k or 1600: the most levels within it (default: all levels)')
    .option('--levels <n>', 'quantizer levels to keep', intArg('levels'))
    .option('--format <format>', 'vqt or json (default from the output extension, else vqt)')
    .option('--chunk-seconds <s>', 'process long files in chunks of this many seconds (default 10)', numberArg('chunk-seconds'))
    .action(async (input: string, _opts: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<EncodeAudioFlags>();
      if (flags.format !== undefined && flags.format !== 'vqt' && flags.format !== 'json') throw new InvalidArgumentError(`--format must be vqt or json, got ${flags.format}`);
      await encodeAudio(input, flags);
    });

  groups.decoders.register('audio', decodeAudioCodes);
}
