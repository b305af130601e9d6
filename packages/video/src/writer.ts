/**
 * Writing frames out: an MP4 (H.264) or WebM (VP9) file through ffmpeg, or a
 * directory of PNG frames through sharp. Frames stream through ffmpeg's stdin
 * with backpressure, so memory stays bounded; the file appears atomically
 * (written under a temporary name, renamed when ffmpeg succeeded).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError, writeFileAtomicAsync } from '@vqkit/core';
import sharp from 'sharp';
import { VideoEncodeError } from './errors.js';
import { resolveFfmpeg, stderrTail, type FfmpegChoice, type FfmpegInfo } from './ffmpeg.js';
import { formatFrameRate, toFrameRate, type FrameRate } from './frame-rate.js';
import type { VideoFrame } from './source.js';

/** What an output path means: a video file by extension, else a directory of PNG frames. */
export type VideoOutputKind = 'mp4' | 'webm' | 'frames';

const VIDEO_EXTENSIONS: Readonly<Record<string, VideoOutputKind>> = { '.mp4': 'mp4', '.m4v': 'mp4', '.mov': 'mp4', '.webm': 'webm' };

/**
 * `.mp4`/`.m4v`/`.mov` → H.264, `.webm` → VP9, an existing directory, a path
 * ending in a separator or a name without extension → PNG frames.
 */
export function videoOutputKind(output: string): VideoOutputKind {
  const ext = path.extname(output).toLowerCase();
  const kind = VIDEO_EXTENSIONS[ext];
  if (kind !== undefined) return kind;
  const isDir = fs.existsSync(output) && fs.statSync(output).isDirectory();
  if (isDir || output.endsWith('/') || output.endsWith(path.sep) || ext === '') return 'frames';
  throw new InvalidArgumentError(`cannot write video as '${ext}': use .mp4, .webm or a directory for PNG frames`);
}

export interface WriteVideoOptions {
  /** Frame rate of the file (ignored for PNG frames). */
  fps: FrameRate | number;
  /** The ffmpeg to use, or how to find one. Default: `locateFfmpeg()`. */
  ffmpeg?: FfmpegChoice;
  /** Constant-quality setting (x264/VP9 CRF; lower is better). Default 18 for H.264, 30 for VP9. */
  crf?: number;
  /** Aborting stops writing (no output file is left behind). */
  signal?: AbortSignal;
}

export interface WriteVideoResult {
  output: string;
  kind: VideoOutputKind;
  frames: number;
  /** Bytes written (the file, or all PNG frames). */
  bytes: number;
  /** The ffmpeg used (video files only). */
  ffmpeg?: FfmpegInfo;
}

/** File name of frame `index` in a frames directory. */
export function frameFileName(index: number): string {
  return `frame-${String(index).padStart(6, '0')}.png`;
}

function checkFrame(frame: VideoFrame, first: VideoFrame): void {
  if (frame.width !== first.width || frame.height !== first.height) {
    throw new InvalidArgumentError(`frame ${frame.index} is ${frame.width}x${frame.height} but the video is ${first.width}x${first.height}`);
  }
  if (frame.data.length !== frame.width * frame.height * 3) throw new InvalidArgumentError(`frame ${frame.index}: ${frame.data.length} bytes for ${frame.width}x${frame.height} RGB`);
}

/** Writes RGB frames to `output` (see `videoOutputKind`). Throws `VideoEncodeError` when ffmpeg fails. */
export async function writeVideo(frames: AsyncIterable<VideoFrame> | Iterable<VideoFrame>, output: string, options: WriteVideoOptions): Promise<WriteVideoResult> {
  const kind = videoOutputKind(output);
  const fps = typeof options.fps === 'number' ? toFrameRate(options.fps) : options.fps;
  if (kind === 'frames') return writeFrames(frames, output, options.signal);
  const ffmpeg = await resolveFfmpeg(options.ffmpeg);
  const iterator = (Symbol.asyncIterator in frames ? frames[Symbol.asyncIterator]() : (frames as Iterable<VideoFrame>)[Symbol.iterator]()) as AsyncIterator<VideoFrame> | Iterator<VideoFrame>;
  const head = await iterator.next();
  if (head.done) throw new InvalidArgumentError('no frames to write');
  const first = head.value;
  checkFrame(first, first);
  const crf = options.crf ?? (kind === 'mp4' ? 18 : 30);
  if (!(Number.isInteger(crf) && crf >= 0 && crf <= 63)) throw new InvalidArgumentError(`crf must be an integer in [0, 63], got ${crf}`);
  const codecArgs =
    kind === 'mp4'
      ? ['-c:v', 'libx264', '-preset', 'medium', '-crf', String(crf), '-pix_fmt', 'yuv420p', '-movflags', '+faststart', '-f', 'mp4']
      : ['-c:v', 'libvpx-vp9', '-crf', String(crf), '-b:v', '0', '-deadline', 'good', '-cpu-used', '4', '-row-mt', '1', '-pix_fmt', 'yuv420p', '-f', 'webm'];
  const temp = `${output}.partial-${process.pid}`;
  const args = [
    '-hide_banner',
    '-nostdin',
    '-v',
    'error',
    '-y',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    '-s',
    `${first.width}x${first.height}`,
    '-framerate',
    formatFrameRate(fps),
    '-i',
    'pipe:0',
    // 4:2:0 chroma needs even sides: pad odd ones by one pixel.
    '-vf',
    'pad=ceil(iw/2)*2:ceil(ih/2)*2',
    ...codecArgs,
    temp,
  ];
  await fs.promises.mkdir(path.dirname(path.resolve(output)), { recursive: true });
  const child = spawn(ffmpeg.path, args, { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => {
    stderr = (stderr + c).slice(-32 * 1024);
  });
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, error }));
    child.on('close', (code) => resolve({ code }));
  });
  // EPIPE when ffmpeg dies early surfaces through the exit code below.
  child.stdin.on('error', () => undefined);
  let count = 0;
  let ok = false;
  try {
    let next: IteratorResult<VideoFrame> = head;
    while (!next.done) {
      options.signal?.throwIfAborted();
      const frame = next.value;
      checkFrame(frame, first);
      if (!child.stdin.write(frame.data)) {
        const drained = await Promise.race([new Promise<boolean>((r) => child.stdin.once('drain', () => r(true))), exited.then(() => false)]);
        if (!drained) break;
      }
      count++;
      next = await iterator.next();
    }
    child.stdin.end();
    const { code, error } = await exited;
    if (error !== undefined) throw new VideoEncodeError(`could not run ffmpeg (${error.message})`, { cause: error });
    if (code !== 0) throw new VideoEncodeError(`ffmpeg failed to write ${output} (exit ${code}: ${stderrTail(stderr)})`);
    await fs.promises.rename(temp, output);
    ok = true;
  } finally {
    if (!ok) {
      child.kill('SIGKILL');
      await exited;
      await fs.promises.rm(temp, { force: true });
    }
  }
  return { output, kind, frames: count, bytes: (await fs.promises.stat(output)).size, ffmpeg };
}

async function writeFrames(frames: AsyncIterable<VideoFrame> | Iterable<VideoFrame>, dir: string, signal: AbortSignal | undefined): Promise<WriteVideoResult> {
  await fs.promises.mkdir(dir, { recursive: true });
  let first: VideoFrame | undefined;
  let count = 0;
  let bytes = 0;
  for await (const frame of frames) {
    signal?.throwIfAborted();
    first ??= frame;
    checkFrame(frame, first);
    const png = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } }).png().toBuffer();
    await writeFileAtomicAsync(path.join(dir, frameFileName(count)), png);
    bytes += png.length;
    count++;
  }
  if (count === 0) throw new InvalidArgumentError('no frames to write');
  return { output: dir, kind: 'frames', frames: count, bytes };
}
