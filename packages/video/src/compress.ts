/**
 * One call from frames to a `.vqt` file with the numbers that describe it:
 * rate (container bits per second, tokens per second, how many codes were
 * reused from the previous frame), quality (per-frame PSNR of the decoded
 * frames against the input) and speed (frames encoded per second).
 */
import { CHECKSUM_BYTES, InvalidArgumentError, type ContainerLimits } from '@vqkit/core';
import { imageCodeSpace, psnr, type ImageTokenizer } from '@vqkit/image';
import { decodeCodeFrames, encodeVideo, packVideoTokens, readVideoContainerInfo, VIDEO_CONTAINER_LIMITS, VIDEO_TAG_DELTA, VIDEO_TAG_KEY, type EncodeVideoOptions, type PackableVideoFrame, type VideoTokenFrame } from './codec.js';
import { fpsOf, toFrameRate, type FrameRate } from './frame-rate.js';
import type { VideoFrame } from './source.js';

export interface CompressVideoOptions extends EncodeVideoOptions {
  /** Frame rate of the frames (stored in the container; sets the time axis of the rates). */
  fps: FrameRate | number;
  /** Decode every frame and measure its PSNR against the input. Default true. */
  measureQuality?: boolean;
  /** Called for every encoded frame (with its PSNR when measured), in order. */
  onFrame?: (frame: VideoTokenFrame, psnr: number | undefined) => void;
  /** Container limits. Default `VIDEO_CONTAINER_LIMITS`. */
  limits?: ContainerLimits;
  /**
   * Aborting stops reading frames after the current batch; the container then
   * holds the frames encoded so far (a valid, shorter video) and
   * `stats.interrupted` is set.
   */
  signal?: AbortSignal;
}

/** Per-clip numbers. Rates count every byte of the container. */
export interface VideoCompressionStats {
  frames: number;
  keyFrames: number;
  deltaFrames: number;
  repeatFrames: number;
  width: number;
  height: number;
  fps: number;
  durationSeconds: number;
  /** Code grid [h, w, levels] of each frame. */
  codeShape: [number, number, number];
  tokensPerFrame: number;
  /** Codes per second of video. */
  tokensPerSecond: number;
  /** Fraction of the codes of non-key frames equal to the previous frame's code at the same position. */
  reusedFraction: number;
  /** Whole container. */
  bytes: number;
  /** Header + checksum. */
  overheadBytes: number;
  /** Mean payload bytes of a key frame and of a delta frame (repeat runs have no payload). */
  keyFrameBytes: number;
  deltaFrameBytes: number;
  /** 8 · bytes / duration. */
  bitsPerSecond: number;
  /** 8 · bytes / (frames · tokensPerFrame). */
  bitsPerToken: number;
  /** PSNR (dB, 8-bit RGB) of the decoded frames against the input: mean and worst over frames. */
  psnr?: { mean: number; worst: number; worstFrame: number };
  /** True when `signal` stopped encoding before the input ended. */
  interrupted: boolean;
  /** Wall time of decoding the input, tokenizing and packing (quality measurement excluded). */
  encodeSeconds: number;
  encodeFramesPerSecond: number;
}

export interface CompressedVideo {
  bytes: Uint8Array;
  stats: VideoCompressionStats;
}

/** Frames → `.vqt` container bytes plus statistics. */
export async function compressVideo(frames: AsyncIterable<VideoFrame> | Iterable<VideoFrame>, tokenizer: ImageTokenizer, options: CompressVideoOptions): Promise<CompressedVideo> {
  const started = performance.now();
  let measuring = 0;
  const fps = typeof options.fps === 'number' ? toFrameRate(options.fps) : options.fps;
  const measure = options.measureQuality ?? true;
  const batchSize = options.batchSize ?? 8;
  const stored: PackableVideoFrame[] = [];
  const small = tokenizer.codebookSizes.every((k) => k <= 65536);
  const psnrs: number[] = [];
  let pending: VideoTokenFrame[] = [];
  let reused = 0;
  let comparable = 0;
  let first: VideoTokenFrame | undefined;
  const flushQuality = (): void => {
    const t0 = performance.now();
    const decoded = decodeCodeFrames(tokenizer, pending.map((p) => p.codes), pending[0]!.shape, pending[0]!.frame.width, pending[0]!.frame.height);
    for (const [i, p] of pending.entries()) {
      const value = psnr(p.frame.data, decoded[i]!, { dataRange: 255 });
      psnrs.push(value);
      options.onFrame?.(p, value);
    }
    pending = [];
    measuring += performance.now() - t0;
  };
  const signal = options.signal;
  let interrupted = false;
  async function* untilAborted(): AsyncGenerator<VideoFrame> {
    for await (const frame of frames) {
      if (signal?.aborted) {
        interrupted = true;
        return;
      }
      yield frame;
    }
  }
  for await (const token of encodeVideo(untilAborted(), tokenizer, { ...options, signal: undefined })) {
    first ??= token;
    // Until the container is written every frame's codes are held: 2 bytes per code where the codebooks allow.
    stored.push({ kind: token.kind, shape: token.shape, codes: small ? Uint16Array.from(token.codes) : token.codes });
    if (token.kind !== 'key') {
      reused += token.reused;
      comparable += token.codes.length;
    }
    if (measure) {
      pending.push(token);
      if (pending.length >= batchSize) flushQuality();
    } else options.onFrame?.(token, undefined);
  }
  if (pending.length > 0) flushQuality();
  if (first === undefined) throw new InvalidArgumentError('a video needs at least one frame');
  const { width, height } = first.frame;
  const bytes = packVideoTokens(stored, imageCodeSpace(tokenizer), { width, height, fps, keyFrameInterval: options.keyFrameInterval ?? 30 }, options.limits ?? VIDEO_CONTAINER_LIMITS);
  const encodeSeconds = (performance.now() - started - measuring) / 1000;
  const info = readVideoContainerInfo(bytes, { limits: options.limits ?? VIDEO_CONTAINER_LIMITS });
  const payload = (tag: number): number[] => info.header.segments.filter((s) => s.tag === tag).map((s) => s.payloadLength);
  const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  const tokensPerFrame = first.codes.length;
  const durationSeconds = stored.length / fpsOf(fps);
  let worst = 0;
  psnrs.forEach((v, i) => {
    if (v < psnrs[worst]!) worst = i;
  });
  return {
    bytes,
    stats: {
      frames: stored.length,
      keyFrames: info.keyFrames,
      deltaFrames: info.deltaFrames,
      repeatFrames: info.repeatFrames,
      width,
      height,
      fps: fpsOf(fps),
      durationSeconds,
      codeShape: first.shape,
      tokensPerFrame,
      tokensPerSecond: tokensPerFrame * fpsOf(fps),
      reusedFraction: comparable === 0 ? 0 : reused / comparable,
      bytes: bytes.length,
      overheadBytes: info.header.headerBytes + CHECKSUM_BYTES,
      keyFrameBytes: mean(payload(VIDEO_TAG_KEY)),
      deltaFrameBytes: mean(payload(VIDEO_TAG_DELTA)),
      bitsPerSecond: (8 * bytes.length) / durationSeconds,
      bitsPerToken: (8 * bytes.length) / (stored.length * tokensPerFrame),
      psnr: measure ? { mean: mean(psnrs), worst: psnrs[worst]!, worstFrame: worst } : undefined,
      interrupted,
      encodeSeconds,
      encodeFramesPerSecond: stored.length / encodeSeconds,
    },
  };
}
