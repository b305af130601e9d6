/**
 * Reading video as a stream of RGB frames with bounded memory.
 *
 * - Real video (MP4/H.264, WebM/VP8/VP9, anything ffmpeg reads): ffmpeg
 *   decodes, applies the frame-rate and size policy as filters and pipes raw
 *   RGB24 frames; the pipe's backpressure keeps at most one frame (plus the
 *   OS pipe buffer) in flight, however long the video.
 * - Animated GIF and WebP: sharp (libvips) renders one page at a time.
 *
 * Policies are explicit: `fps` ('source' keeps every decoded frame; a number
 * resamples to a constant rate, dropping or repeating frames) and `size` +
 * `resize` (the image package's policies: 'center-crop', 'resize', 'pad',
 * 'none').
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { InvalidArgumentError } from '@vqkit/core';
import type { ImageSize, ResizePolicy } from '@vqkit/image';
import sharp from 'sharp';
import { VideoDecodeError } from './errors.js';
import { resolveFfmpeg, stderrTail, type FfmpegChoice, type FfmpegInfo } from './ffmpeg.js';
import { fpsOf, toFrameRate, type FrameRate } from './frame-rate.js';

/** One decoded frame: 8-bit RGB, row-major HWC. */
export interface VideoFrame {
  /** 0-based position in the output sequence. */
  index: number;
  /** Presentation time in seconds (index / fps for constant-rate output). */
  timestamp: number;
  width: number;
  height: number;
  /** width · height · 3 bytes. */
  data: Uint8Array;
}

export type FramePolicyFps = number | 'source';

export interface ReadVideoOptions {
  /** Output frame rate: 'source' (default) keeps every decoded frame; a number resamples to that constant rate. */
  fps?: FramePolicyFps;
  /** Output size; a number means a square. Default: the source size. */
  size?: ImageSize | number;
  /** How to reach `size` (see @vqkit/image's ResizePolicy). Default 'center-crop' when `size` is given. */
  resize?: ResizePolicy;
  /** Stop after this many frames. Default: all. */
  maxFrames?: number;
  /** The ffmpeg to use, or how to find one. Default: `locateFfmpeg()`. */
  ffmpeg?: FfmpegChoice;
  /**
   * Fail on any decoding error (ffmpeg `-xerror`), so truncated or corrupt
   * input raises `VideoDecodeError` instead of yielding what could be
   * salvaged. Default true.
   */
  strict?: boolean;
  /** Aborting stops decoding (the iterator throws the signal's reason). */
  signal?: AbortSignal;
}

/** What `openVideo` found out about the input and the frames it will yield. */
export interface VideoInfo {
  input: string;
  /** Which decoder reads the input. */
  decoder: 'ffmpeg' | 'sharp';
  /** The ffmpeg in use, for the ffmpeg decoder. */
  ffmpeg?: FfmpegInfo;
  /** Codec or image format name, e.g. 'h264', 'vp8', 'gif'. */
  codec: string;
  sourceWidth: number;
  sourceHeight: number;
  /** Source frame rate (average for variable-rate animations). */
  sourceFps: FrameRate;
  /** Duration in seconds, when the input declares one. */
  durationSeconds: number | undefined;
  /** Size of the frames yielded. */
  width: number;
  height: number;
  /** Rate of the frames yielded. */
  fps: FrameRate;
  /** Expected frame count (exact for animations, from duration × fps for video), or undefined. */
  estimatedFrames: number | undefined;
}

/** An opened video: its description and a one-shot frame iterator. */
export interface VideoSource {
  info: VideoInfo;
  frames(): AsyncGenerator<VideoFrame>;
}

const RESIZE_POLICIES: readonly ResizePolicy[] = ['none', 'center-crop', 'resize', 'pad'];

interface SizePolicy {
  size: ImageSize | undefined;
  resize: ResizePolicy;
}

function resolveSizePolicy(options: ReadVideoOptions): SizePolicy {
  const s = options.size;
  const size = s === undefined ? undefined : typeof s === 'number' ? { width: s, height: s } : s;
  if (size !== undefined && !(Number.isInteger(size.width) && size.width > 0 && Number.isInteger(size.height) && size.height > 0)) {
    throw new InvalidArgumentError(`size must be positive integers, got ${JSON.stringify(s)}`);
  }
  const resize = options.resize ?? (size ? 'center-crop' : 'none');
  if (!RESIZE_POLICIES.includes(resize)) throw new InvalidArgumentError(`unknown resize policy '${String(resize)}'; use one of ${RESIZE_POLICIES.join(', ')}`);
  if (resize !== 'none' && size === undefined) throw new InvalidArgumentError(`resize policy '${resize}' needs a size`);
  return { size, resize };
}

function resolveFpsPolicy(fps: FramePolicyFps | undefined): FrameRate | 'source' {
  if (fps === undefined || fps === 'source') return 'source';
  return toFrameRate(fps);
}

function checkMaxFrames(n: number | undefined): number {
  if (n === undefined) return Number.POSITIVE_INFINITY;
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`maxFrames must be a positive integer, got ${n}`);
  return n;
}

/** Output size of a policy applied to a source size. */
function outputSize(policy: SizePolicy, width: number, height: number): ImageSize {
  if (policy.size === undefined) return { width, height };
  if (policy.resize === 'none') {
    if (policy.size.width !== width || policy.size.height !== height) {
      throw new InvalidArgumentError(`the video is ${width}x${height}, not ${policy.size.width}x${policy.size.height}; choose a resize policy (center-crop, resize or pad)`);
    }
  }
  return policy.size;
}

async function readMagic(input: string): Promise<Buffer> {
  const handle = await fs.promises.open(input, 'r');
  try {
    const buf = Buffer.alloc(12);
    const { bytesRead } = await handle.read(buf, 0, 12, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function isAnimatedImageMagic(magic: Buffer): 'gif' | 'webp' | undefined {
  if (magic.subarray(0, 4).toString('latin1') === 'GIF8') return 'gif';
  if (magic.subarray(0, 4).toString('latin1') === 'RIFF' && magic.subarray(8, 12).toString('latin1') === 'WEBP') return 'webp';
  return undefined;
}

/**
 * Opens a video file: finds its decoder, probes size, rate and duration and
 * applies the policies. Throws `VideoDecodeError` for missing, unreadable
 * or non-video input and `FfmpegNotFoundError` when a video needs ffmpeg and
 * there is none.
 */
export async function openVideo(input: string, options: ReadVideoOptions = {}): Promise<VideoSource> {
  const policy = resolveSizePolicy(options);
  const fps = resolveFpsPolicy(options.fps);
  const maxFrames = checkMaxFrames(options.maxFrames);
  let magic: Buffer;
  try {
    magic = await readMagic(input);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new VideoDecodeError(code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a video file' : `cannot read (${code ?? String(err)})`, input, { cause: err });
  }
  if (magic.length === 0) throw new VideoDecodeError('empty file', input);
  const animated = isAnimatedImageMagic(magic);
  if (animated !== undefined) return openAnimatedImage(input, animated, policy, fps, maxFrames, options.signal);
  return openWithFfmpeg(input, policy, fps, maxFrames, options);
}

/** Decodes a video file to RGB frames; shorthand for `openVideo(...).frames()`. */
export async function* readVideoFrames(input: string, options: ReadVideoOptions = {}): AsyncGenerator<VideoFrame> {
  const source = await openVideo(input, options);
  yield* source.frames();
}

// ---------------------------------------------------------------- ffmpeg

interface ProbeResult {
  codec: string;
  width: number;
  height: number;
  fps: FrameRate | undefined;
  durationSeconds: number | undefined;
}

/** Collects a child's stderr, keeping only the last `limit` characters. */
function collectStderr(stream: NodeJS.ReadableStream, limit = 64 * 1024): () => string {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    text += chunk;
    if (text.length > 2 * limit) text = text.slice(-limit);
  });
  return () => text;
}

/** Parses the stream description `ffmpeg -i` prints (ffmpeg has no ffprobe in the bundled package). */
export function parseFfmpegProbe(stderr: string): ProbeResult | undefined {
  const line = stderr.split('\n').find((l) => /Stream #\d+:\d+.*: Video: /.test(l));
  if (line === undefined) return undefined;
  const codec = /Video: ([\w-]+)/.exec(line)?.[1] ?? 'unknown';
  // The size is the first WxH after the codec (pixel format parentheses never hold one).
  const size = /, (\d{1,5})x(\d{1,5})/.exec(line.slice(line.indexOf('Video: ')));
  if (size === null) return undefined;
  const fpsText = /, ([\d.]+)(k?) fps/.exec(line) ?? /, ([\d.]+)(k?) tbr/.exec(line);
  const fpsValue = fpsText ? Number(fpsText[1]) * (fpsText[2] === 'k' ? 1000 : 1) : Number.NaN;
  const d = /Duration: (\d+):(\d+):([\d.]+)/.exec(stderr);
  // ffmpeg auto-rotates phone videos, so frames come out with the displayed (rotated) size.
  const rotation = Number(/rotate\s*: (-?\d+)/.exec(stderr)?.[1] ?? /rotation of (-?[\d.]+) degrees/.exec(stderr)?.[1] ?? 0);
  const quarterTurn = Math.abs(Math.round(rotation / 90)) % 2 === 1;
  return {
    codec,
    width: Number(size[quarterTurn ? 2 : 1]),
    height: Number(size[quarterTurn ? 1 : 2]),
    fps: fpsValue > 0 && fpsValue <= 1000 ? toFrameRate(fpsValue) : undefined,
    durationSeconds: d ? Number(d[1]) * 3600 + Number(d[2]) * 60 + Number(d[3]) : undefined,
  };
}

async function probeWithFfmpeg(input: string, ffmpeg: FfmpegInfo): Promise<ProbeResult> {
  const child = spawn(ffmpeg.path, ['-hide_banner', '-nostdin', '-i', input], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr = collectStderr(child.stderr);
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () => resolve());
  });
  const probe = parseFfmpegProbe(stderr());
  if (probe === undefined) {
    const tail = stderrTail(stderr().replace(/At least one output file must be specified/g, ''), 3);
    throw new VideoDecodeError(`not a readable video (no video stream found${tail ? `: ${tail}` : ''})`, input);
  }
  return probe;
}

/** ffmpeg filter chain of the size policy. */
function scaleFilters(policy: SizePolicy): string[] {
  const size = policy.size;
  if (size === undefined || policy.resize === 'none') return [];
  const { width: w, height: h } = size;
  switch (policy.resize) {
    case 'resize':
      return [`scale=${w}:${h}:flags=bicubic`];
    case 'center-crop':
      return [`scale=${w}:${h}:force_original_aspect_ratio=increase:flags=bicubic`, `crop=${w}:${h}`];
    case 'pad':
      return [`scale=${w}:${h}:force_original_aspect_ratio=decrease:flags=bicubic`, `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2:black`];
  }
}

async function openWithFfmpeg(input: string, policy: SizePolicy, fps: FrameRate | 'source', maxFrames: number, options: ReadVideoOptions): Promise<VideoSource> {
  const ffmpeg = await resolveFfmpeg(options.ffmpeg);
  const probe = await probeWithFfmpeg(input, ffmpeg);
  const { width, height } = outputSize(policy, probe.width, probe.height);
  const sourceFps = probe.fps ?? toFrameRate(25);
  const outFps = fps === 'source' ? sourceFps : fps;
  const estimate = probe.durationSeconds === undefined ? undefined : Math.round(probe.durationSeconds * fpsOf(outFps));
  const info: VideoInfo = {
    input,
    decoder: 'ffmpeg',
    ffmpeg,
    codec: probe.codec,
    sourceWidth: probe.width,
    sourceHeight: probe.height,
    sourceFps,
    durationSeconds: probe.durationSeconds,
    width,
    height,
    fps: outFps,
    estimatedFrames: estimate === undefined ? undefined : Math.min(estimate, maxFrames),
  };
  const filters = [...(fps === 'source' ? [] : [`fps=fps=${outFps.num}/${outFps.den}`]), ...scaleFilters(policy)];
  const args = [
    '-hide_banner',
    '-nostdin',
    '-v',
    'error',
    ...(options.strict === false ? [] : ['-xerror']),
    '-i',
    input,
    '-map',
    '0:v:0',
    '-an',
    '-sn',
    ...(filters.length > 0 ? ['-vf', filters.join(',')] : []),
    ...(Number.isFinite(maxFrames) ? ['-frames:v', String(maxFrames)] : []),
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ];
  let started = false;
  return {
    info,
    frames: () => {
      if (started) throw new InvalidArgumentError('VideoSource.frames() can be iterated only once; open the video again');
      started = true;
      return ffmpegFrames(input, ffmpeg, args, info, maxFrames, options.signal);
    },
  };
}

async function* ffmpegFrames(input: string, ffmpeg: FfmpegInfo, args: string[], info: VideoInfo, maxFrames: number, signal: AbortSignal | undefined): AsyncGenerator<VideoFrame> {
  signal?.throwIfAborted();
  const { width, height } = info;
  const frameBytes = width * height * 3;
  const child = spawn(ffmpeg.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = collectStderr(child.stderr);
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, error }));
    child.on('close', (code) => resolve({ code }));
  });
  const onAbort = (): void => {
    child.kill('SIGKILL');
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  let index = 0;
  let frame = new Uint8Array(frameBytes);
  let filled = 0;
  let finished = false;
  const period = info.fps.den / info.fps.num;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - offset);
        frame.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === frameBytes) {
          yield { index, timestamp: index * period, width, height, data: frame };
          index++;
          frame = new Uint8Array(frameBytes);
          filled = 0;
          if (index >= maxFrames) return;
        }
      }
    }
    signal?.throwIfAborted();
    const { code, error } = await exited;
    if (error !== undefined) throw new VideoDecodeError(`could not run ffmpeg (${error.message})`, input, { cause: error });
    if (code !== 0) {
      throw new VideoDecodeError(`decoding failed after ${index} frame(s): the file is truncated or corrupt (ffmpeg exit ${code}: ${stderrTail(stderr())})`, input);
    }
    if (filled !== 0) throw new VideoDecodeError(`the decoder stopped inside frame ${index} (${filled} of ${frameBytes} bytes)`, input);
    if (index === 0) throw new VideoDecodeError(`no frames could be decoded${stderr() ? ` (${stderrTail(stderr())})` : ''}`, input);
    finished = true;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!finished) {
      // Early exit (maxFrames, a consumer that stopped, an error): stop ffmpeg and reap it.
      child.stdout.destroy();
      child.kill('SIGKILL');
      await exited;
    }
  }
}

// ---------------------------------------------------------------- animated images

/** Browsers show GIF frames with delay 0 (or < 20 ms) for 100 ms; so do we. */
function effectiveDelayMs(delay: number | undefined): number {
  return delay === undefined || delay < 20 ? 100 : delay;
}

async function openAnimatedImage(input: string, format: 'gif' | 'webp', policy: SizePolicy, fps: FrameRate | 'source', maxFrames: number, signal: AbortSignal | undefined): Promise<VideoSource> {
  let meta: sharp.Metadata;
  try {
    meta = await sharp(input, { animated: true }).metadata();
  } catch (err) {
    throw new VideoDecodeError(`not a readable ${format.toUpperCase()} (${(err as Error).message})`, input, { cause: err });
  }
  const pages = meta.pages ?? 1;
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (!(width > 0 && height > 0)) throw new VideoDecodeError(`${format.toUpperCase()} without a valid size`, input);
  const delays = Array.from({ length: pages }, (_, i) => effectiveDelayMs(meta.delay?.[i]));
  const starts: number[] = [];
  let total = 0;
  for (const d of delays) {
    starts.push(total);
    total += d;
  }
  const sourceFps = toFrameRate((1000 * pages) / total);
  const outFps = fps === 'source' ? sourceFps : fps;
  // Which page each output frame shows: every page for 'source', else the page on screen at k / fps.
  const schedule: number[] = [];
  if (fps === 'source') for (let p = 0; p < pages; p++) schedule.push(p);
  else {
    const count = Math.max(1, Math.round((total / 1000) * fpsOf(outFps)));
    let page = 0;
    for (let k = 0; k < count; k++) {
      const t = (1000 * k * outFps.den) / outFps.num;
      while (page + 1 < pages && starts[page + 1]! <= t) page++;
      schedule.push(page);
    }
  }
  if (schedule.length > maxFrames) schedule.length = maxFrames;
  const out = outputSize(policy, width, height);
  const info: VideoInfo = {
    input,
    decoder: 'sharp',
    codec: format,
    sourceWidth: width,
    sourceHeight: height,
    sourceFps,
    durationSeconds: total / 1000,
    width: out.width,
    height: out.height,
    fps: outFps,
    estimatedFrames: schedule.length,
  };
  const fit = { 'center-crop': 'cover', resize: 'fill', pad: 'contain', none: undefined }[policy.resize] as keyof sharp.FitEnum | undefined;
  let started = false;
  async function* frames(): AsyncGenerator<VideoFrame> {
    const period = outFps.den / outFps.num;
    let cachedPage = -1;
    let cached: Uint8Array | undefined;
    for (const [index, page] of schedule.entries()) {
      signal?.throwIfAborted();
      if (page !== cachedPage) {
        try {
          let pipeline = sharp(input, { page, pages: 1 }).flatten({ background: '#ffffff' }).toColourspace('srgb');
          if (fit !== undefined) pipeline = pipeline.resize({ width: out.width, height: out.height, fit, background: '#000000' });
          const { data, info: raw } = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
          if (raw.width !== out.width || raw.height !== out.height || raw.channels !== 3) throw new Error(`page ${page} decoded to ${raw.width}x${raw.height}x${raw.channels}`);
          cached = new Uint8Array(data.buffer, data.byteOffset, data.length);
        } catch (err) {
          throw new VideoDecodeError(`cannot decode frame ${index} (page ${page}): ${(err as Error).message}`, input, { cause: err });
        }
        cachedPage = page;
      }
      // Each frame owns its pixels (consumers may keep or modify them).
      yield { index, timestamp: index * period, width: out.width, height: out.height, data: cached!.slice() };
    }
  }
  return {
    info,
    frames: () => {
      if (started) throw new InvalidArgumentError('VideoSource.frames() can be iterated only once; open the video again');
      started = true;
      return frames();
    },
  };
}
