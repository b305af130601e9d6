/**
 * Video commands:
 *
 *   vqkit encode video CLIP -m DIR -o CLIP.vqt [--fps N] [--size WxH] [--resize policy]
 *                                              [--key-interval N] [--max-frames N]
 *   vqkit decode CLIP.vqt -m DIR -o OUT.mp4 | OUT.webm | FRAMES_DIR/   (handler for video codes)
 *
 * CLIP is anything ffmpeg decodes (MP4/H.264, WebM/VP8/VP9, …) or an
 * animated GIF/WebP; DIR is an RGB image tokenizer. The ffmpeg in use (bundled
 * or system) is printed; `--ffmpeg PATH` or $VQKIT_FFMPEG picks another.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError, writeFileAtomic } from '@vqkit/core';
import { ImageTokenizer, imageCodeSpace, type ResizePolicy } from '@vqkit/image';
import {
  compressVideo,
  decodeVideo,
  describeFfmpeg,
  fpsOf,
  locateFfmpeg,
  openVideo,
  readVideoContainerInfo,
  videoOutputKind,
  writeVideo,
  type VideoCompressionStats,
} from '@vqkit/video';
import { Command, Option } from 'commander';
import { startEngine, type EngineFlags } from '../engine.js';
import { withInterrupt } from '../interrupt.js';
import { createProgress, formatNumber } from '../progress.js';
import type { CommandGroups, DecodeRequest } from './groups.js';
import { intArg, numberArg, parseSize } from '../flags.js';

function parseFps(value: string): number | 'source' {
  if (value === 'source') return value;
  const n = Number(value);
  if (!(n > 0 && n <= 1000)) throw new InvalidArgumentError(`--fps must be 'source' or a frame rate in (0, 1000], got ${JSON.stringify(value)}`);
  return n;
}

interface EncodeVideoFlags extends EngineFlags {
  model: string;
  output: string;
  fps: number | 'source';
  size?: { width: number; height: number };
  resize?: ResizePolicy;
  keyInterval: number;
  reuseTolerance: number;
  maxFrames?: number;
  batchSize: number;
  ffmpeg?: string;
  quality: boolean;
  report?: string;
}

/** One-paragraph summary of a clip's numbers. */
export function formatVideoStats(s: VideoCompressionStats): string {
  const lines = [
    `${s.frames} frames at ${s.width}x${s.height}, ${formatNumber(s.fps)} fps (key ${s.keyFrames}, delta ${s.deltaFrames}, repeat ${s.repeatFrames})${s.interrupted ? ' — interrupted, the file holds the frames encoded so far' : ''}`,
    `codes [${s.codeShape.join('x')}] per frame = ${formatNumber(Math.round(s.tokensPerSecond))} tokens/s; ${(100 * s.reusedFraction).toFixed(1)}% reused from the previous frame`,
    `${s.bytes} bytes = ${formatNumber(s.bitsPerSecond / 1000)} kbit/s (${formatNumber(s.bitsPerToken)} bits/token; key frame ${Math.round(s.keyFrameBytes)} B, delta frame ${formatNumber(s.deltaFrameBytes)} B)`,
  ];
  if (s.psnr !== undefined) lines.push(`PSNR mean ${s.psnr.mean.toFixed(2)} dB, worst ${s.psnr.worst.toFixed(2)} dB (frame ${s.psnr.worstFrame})`);
  lines.push(`encoded at ${formatNumber(s.encodeFramesPerSecond)} frames/s`);
  return lines.map((l) => `  ${l}`).join('\n');
}

async function encodeVideoCommand(input: string, flags: EncodeVideoFlags): Promise<void> {
  if (path.extname(flags.output).toLowerCase() !== '.vqt') throw new InvalidArgumentError(`video codes are written as a .vqt container, got -o ${flags.output}`);
  await startEngine(flags);
  // ffmpeg is located only for inputs that need it (not for animated GIF/WebP).
  const source = await openVideo(input, { fps: flags.fps, size: flags.size, resize: flags.resize, maxFrames: flags.maxFrames, ffmpeg: { path: flags.ffmpeg } });
  const info = source.info;
  console.error(`vqkit: decoding with ${info.decoder === 'ffmpeg' ? describeFfmpeg(info.ffmpeg!) : 'sharp (animated image)'}`);
  const tokenizer = await ImageTokenizer.load(flags.model);
  try {
    const progress = createProgress({ label: 'encode', total: info.estimatedFrames ?? 0, unit: 'frame' });
    const { bytes, stats } = await withInterrupt((signal) =>
      compressVideo(source.frames(), tokenizer, {
        fps: info.fps,
        keyFrameInterval: flags.keyInterval,
        reuseTolerance: flags.reuseTolerance,
        batchSize: flags.batchSize,
        measureQuality: flags.quality,
        signal,
        onFrame: (frame, psnr) => progress.update(frame.index + 1, { kind: frame.kind, psnr }),
      }),
    );
    progress.stop();
    fs.mkdirSync(path.dirname(path.resolve(flags.output)), { recursive: true });
    writeFileAtomic(flags.output, bytes);
    console.log(`${input} (${info.codec} ${info.sourceWidth}x${info.sourceHeight} @ ${formatNumber(fpsOf(info.sourceFps))} fps) → ${flags.output}`);
    console.log(formatVideoStats(stats));
    if (flags.report !== undefined) writeFileAtomic(flags.report, `${JSON.stringify({ input, output: flags.output, tokenizer: imageCodeSpace(tokenizer).tokenizerId, decoder: info.decoder, ffmpeg: info.ffmpeg, ...stats }, null, 2)}\n`);
  } finally {
    tokenizer.dispose();
  }
}

/** `vqkit decode` handler for video containers. */
export async function decodeVideoCodes(request: DecodeRequest): Promise<void> {
  const model = request.options.model as string;
  const output = request.options.output as string;
  const kind = videoOutputKind(output);
  await startEngine(request.globals as EngineFlags);
  const ffmpeg = kind === 'frames' ? undefined : await locateFfmpeg({ path: request.options.ffmpeg as string | undefined });
  if (ffmpeg !== undefined) console.error(`vqkit: encoding with ${describeFfmpeg(ffmpeg)}`);
  const tokenizer = await ImageTokenizer.load(model);
  try {
    const info = readVideoContainerInfo(request.bytes, { space: imageCodeSpace(tokenizer) });
    const progress = createProgress({ label: 'decode', total: info.frames, unit: 'frame' });
    const result = await withInterrupt(async (signal) => {
      async function* frames() {
        for await (const frame of decodeVideo(request.bytes, tokenizer, { signal })) {
          progress.update(frame.index + 1);
          yield frame;
        }
      }
      return writeVideo(frames(), output, { fps: info.fps, ffmpeg, signal });
    });
    progress.stop();
    const what = result.kind === 'frames' ? `${result.frames} PNG frames` : `${result.kind.toUpperCase()} of ${result.frames} frames`;
    console.log(`${request.input} → ${output}: ${what} at ${info.width}x${info.height}, ${formatNumber(fpsOf(info.fps))} fps (${result.bytes} bytes)`);
  } finally {
    tokenizer.dispose();
  }
}

export function registerVideo(_program: Command, groups: CommandGroups): void {
  groups.encode
    .command('video')
    .description('tokenize a video (MP4, WebM, animated GIF/WebP …) frame by frame into a .vqt container with temporal coding')
    .argument('<input>', 'video file')
    .requiredOption('-m, --model <dir>', 'RGB image tokenizer directory')
    .requiredOption('-o, --output <file.vqt>', 'container to write')
    .option('--fps <n|source>', "frame rate: 'source' keeps every frame, a number resamples (drops/repeats frames)", parseFps, 'source' as const)
    .option('--size <WxH>', 'frame size for the tokenizer (default: the source size)', (value: string) => parseSize(value))
    .addOption(new Option('--resize <policy>', 'how frames reach --size (default center-crop)').choices(['center-crop', 'resize', 'pad']))
    .option('--key-interval <n>', 'a key frame every n frames', intArg('key-interval', 1), 30)
    .option('--reuse-tolerance <x>', 'keep the previous code where it is within (1 + x) of the best code\'s latent distance (lossy; 0 = exact codes)', numberArg('reuse-tolerance', (n) => n >= 0, 'a number ≥ 0'), 0)
    .option('--max-frames <n>', 'encode at most n frames', intArg('max-frames', 1))
    .option('--batch-size <n>', 'frames per tokenizer forward pass', intArg('batch-size', 1), 8)
    .option('--ffmpeg <path>', 'ffmpeg executable (default: $VQKIT_FFMPEG, the bundled one, then the system one)')
    .option('--no-quality', 'skip decoding every frame to measure PSNR')
    .option('--report <file.json>', 'also write the per-clip numbers as JSON')
    .action(async (input: string, _opts: unknown, cmd: Command) => {
      await encodeVideoCommand(input, cmd.optsWithGlobals() as EncodeVideoFlags);
    });
  groups.decode.option('--ffmpeg <path>', 'ffmpeg executable for .mp4/.webm output (video codes)');
  groups.decoders.register('video', decodeVideoCodes);
}
