/**
 * Video ↔ tokens ↔ `.vqt` container.
 *
 * Frames are tokenized by an image tokenizer in batches; each frame becomes a
 * code grid [h, w, levels] (h = ⌈H/f⌉, w = ⌈W/f⌉). Every `keyFrameInterval`-th
 * frame is a key frame; the others are delta frames, coded against the
 * previous frame by the temporal entropy model (temporal-model.ts), and a
 * frame whose codes all equal the previous frame's joins a repeat run.
 *
 * Container use for video (core's format, docs/container.md): modality
 * `video`, the tokenizer's id and codebook sizes, model state carried across
 * segments, entropy model `external` with the temporal model's fingerprint,
 * and one segment per frame or run:
 *
 * | tag | segment       | shape          | codes |
 * |-----|---------------|----------------|-------|
 * | 0   | key frame     | [h, w, levels] | the frame's codes, predicted within the frame |
 * | 1   | delta frame   | [h, w, levels] | the frame's codes, predicted from the previous frame |
 * | 2   | repeat run    | [n, 0, levels] | none: n frames with the previous frame's codes |
 *
 * Metadata (varints after a version byte): version 1, width, height,
 * fps numerator, fps denominator, key-frame interval. A repeat run costs its
 * descriptor, two dimension bytes and one payload-length byte, whatever n.
 */
import {
  ContainerCorruptError,
  createLevelModels,
  decodeCodeTensor,
  EntropyDecodeError,
  EntropyModelMismatchError,
  InvalidArgumentError,
  readContainerHeader,
  VqkitError,
  writeContainer,
  type ContainerHeader,
  type ContainerLimits,
  type ProbabilityModel,
} from '@vqkit/core';
import { imageCodeSpace, type ImageCodeSpace, type ImageF32, type ImageTokenizer } from '@vqkit/image';
import * as tf from '@tensorflow/tfjs';
import { fpsOf, type FrameRate } from './frame-rate.js';
import type { VideoFrame } from './source.js';
import { temporalModelSpec, type CodedFrameKind } from './temporal-model.js';

export const VIDEO_TAG_KEY = 0;
export const VIDEO_TAG_DELTA = 1;
export const VIDEO_TAG_REPEAT = 2;
const METADATA_VERSION = 1;

/** How a frame is stored. */
export type VideoFrameKind = 'key' | 'delta' | 'repeat';

/** The codes of one frame, as `encodeVideo` yields them. */
export interface VideoTokenFrame {
  index: number;
  /** Presentation time in seconds. */
  timestamp: number;
  kind: VideoFrameKind;
  /** Code grid [h, w, levels]. */
  shape: [number, number, number];
  /** Codes, row-major over `shape`. */
  codes: Int32Array;
  /** Codes equal to the previous frame's at the same position (0 for key frames). */
  reused: number;
  /** The frame that was encoded. */
  frame: VideoFrame;
}

export interface EncodeVideoOptions {
  /** A key frame every this many frames (the first frame is always one). Default 30. */
  keyFrameInterval?: number;
  /** Frames tokenized per forward pass. Default 8. */
  batchSize?: number;
  /**
   * Conditional replenishment (lossy, a rate knob): in a delta frame a
   * position keeps the previous frame's code when that code's vector is
   * almost as close to the encoder's latent as the best code's,
   * ‖z − e_prev‖² ≤ (1 + τ)·‖z − e_best‖². Sensor noise and compression
   * artefacts then stop flipping codes in static regions. 0 (default): every
   * frame gets exactly the codes the tokenizer gives it.
   */
  reuseTolerance?: number;
  /** Aborting stops after the current batch (the iterator throws the signal's reason). */
  signal?: AbortSignal;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** 8-bit RGB frame → float pixels in [0, 1]. */
export function frameToImage(frame: VideoFrame): ImageF32 {
  const data = new Float32Array(frame.data.length);
  for (let i = 0; i < data.length; i++) data[i] = frame.data[i]! / 255;
  return { data, width: frame.width, height: frame.height, channels: 3 };
}

/** Float pixels in [0, 1] → 8-bit (rounded, clamped). */
export function imageToBytes(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, data[i]!)) * 255);
  return out;
}

function checkRgbTokenizer(tokenizer: ImageTokenizer): void {
  if (tokenizer.model.channels !== 3) throw new InvalidArgumentError(`video needs an RGB tokenizer, this one has ${tokenizer.model.channels} channel(s)`);
}

/**
 * Tokenizes a stream of frames: batches of `batchSize` frames go through the
 * image tokenizer, and each frame comes out with its codes and how it will be
 * stored (key, delta or repeat). Frames must all have the same size.
 */
export async function* encodeVideo(
  frames: AsyncIterable<VideoFrame> | Iterable<VideoFrame>,
  tokenizer: ImageTokenizer,
  options: EncodeVideoOptions = {},
): AsyncGenerator<VideoTokenFrame> {
  checkRgbTokenizer(tokenizer);
  const interval = positiveInt('keyFrameInterval', options.keyFrameInterval ?? 30);
  const batchSize = positiveInt('batchSize', options.batchSize ?? 8);
  const tolerance = options.reuseTolerance ?? 0;
  if (!(tolerance >= 0 && Number.isFinite(tolerance))) throw new InvalidArgumentError(`reuseTolerance must be a finite number ≥ 0, got ${tolerance}`);
  const levels = tokenizer.codebookSizes.length;
  let previous: Int32Array | undefined;
  let first: VideoFrame | undefined;
  let index = 0;
  let batch: VideoFrame[] = [];
  const flush = function* (): Generator<VideoTokenFrame> {
    const latents = tolerance > 0 ? encodeWithLatents(tokenizer, batch) : undefined;
    const encoded = latents?.encoded ?? tokenizer.encodeImages(batch.map(frameToImage));
    for (const [j, frame] of batch.entries()) {
      const e = encoded[j]!;
      const shape: [number, number, number] = [e.shape[0]!, e.shape[1]!, levels];
      let codes = e.codes;
      let kind: VideoFrameKind = 'key';
      let reused = 0;
      if (index % interval !== 0 && previous !== undefined) {
        if (latents !== undefined) codes = replenish(tokenizer, latents, j, shape, previous, tolerance);
        for (let i = 0; i < codes.length; i++) if (codes[i] === previous[i]) reused++;
        kind = reused === codes.length ? 'repeat' : 'delta';
      }
      previous = codes;
      yield { index, timestamp: frame.timestamp, kind, shape, codes, reused, frame };
      index++;
    }
    batch = [];
  };
  for await (const frame of frames) {
    options.signal?.throwIfAborted();
    first ??= frame;
    if (frame.width !== first.width || frame.height !== first.height) {
      throw new InvalidArgumentError(`frame ${index + batch.length} is ${frame.width}x${frame.height} but the video is ${first.width}x${first.height}; all frames must have one size`);
    }
    if (frame.data.length !== frame.width * frame.height * 3) throw new InvalidArgumentError(`frame ${index + batch.length}: ${frame.data.length} bytes is not ${frame.width}x${frame.height} RGB`);
    batch.push(frame);
    if (batch.length === batchSize) yield* flush();
  }
  if (batch.length > 0) yield* flush();
}

/** A batch's codes plus what conditional replenishment compares: latents and their distance to the chosen codes. */
interface BatchLatents {
  encoded: { codes: Int32Array; shape: number[] }[];
  /** Latents [B, h, w, D], row-major. */
  z: Float32Array;
  /** ‖z − e_best‖² per position [B, h, w]. */
  bestDistance: Float32Array;
  dim: number;
}

function encodeWithLatents(tokenizer: ImageTokenizer, frames: readonly VideoFrame[]): BatchLatents {
  const { width, height } = frames[0]!;
  const per = width * height * 3;
  const pixels = new Float32Array(frames.length * per);
  frames.forEach((f, i) => {
    for (let p = 0; p < per; p++) pixels[i * per + p] = f.data[p]! / 255;
  });
  const [codes, z, best] = tf.tidy(() => {
    const latents = tokenizer.model.encodeLatents(tf.tensor4d(pixels, [frames.length, height, width, 3]));
    const q = tokenizer.model.quantizer.forward(latents);
    return [q.codes, latents, tf.sum(tf.squaredDifference(latents, q.quantized), -1)];
  });
  const codeData = codes.dataSync() as Int32Array;
  const shape = codes.shape.slice(1);
  const dim = z.shape[3]!;
  const out = { encoded: [] as BatchLatents['encoded'], z: z.dataSync() as Float32Array, bestDistance: best.dataSync() as Float32Array, dim };
  const count = shape.reduce((a, b) => a * b, 1);
  for (let i = 0; i < frames.length; i++) out.encoded.push({ codes: codeData.slice(i * count, (i + 1) * count), shape });
  tf.dispose([codes, z, best]);
  return out;
}

/** Frame j's codes with every position whose previous code is within the tolerance set back to it. */
function replenish(tokenizer: ImageTokenizer, latents: BatchLatents, j: number, shape: readonly [number, number, number], previous: Int32Array, tolerance: number): Int32Array {
  const [h, w, levels] = shape;
  const cells = h * w;
  const prevVectors = tf.tidy(() => tokenizer.model.quantizer.decodeCodes(tf.tensor(previous, levels > 1 ? [1, h, w, levels] : [1, h, w], 'int32')));
  const e = prevVectors.dataSync() as Float32Array;
  prevVectors.dispose();
  const { z, bestDistance, dim } = latents;
  const codes = latents.encoded[j]!.codes.slice();
  for (let c = 0; c < cells; c++) {
    let d = 0;
    const zOffset = (j * cells + c) * dim;
    for (let k = 0; k < dim; k++) {
      const diff = z[zOffset + k]! - e[c * dim + k]!;
      d += diff * diff;
    }
    if (d <= (1 + tolerance) * bestDistance[j * cells + c]!) for (let l = 0; l < levels; l++) codes[c * levels + l] = previous[c * levels + l]!;
  }
  return codes;
}

/** What the container records about the video besides its codes. */
export interface VideoStreamInfo {
  /** Frame size in pixels (the tokenizer's input). */
  width: number;
  height: number;
  fps: FrameRate;
  /** Key-frame interval the encoder used (informational). */
  keyFrameInterval: number;
}

function writeVarint(out: number[], value: number): void {
  let v = value;
  do {
    let byte = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) byte |= 0x80;
    out.push(byte);
  } while (v > 0);
}

function readVarint(bytes: Uint8Array, at: { pos: number }): number {
  let value = 0;
  for (let shift = 0, scale = 1; shift < 35; shift += 7, scale *= 128) {
    const b = bytes[at.pos++];
    if (b === undefined) throw new ContainerCorruptError('corrupt: video metadata ends inside a number');
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return value;
  }
  throw new ContainerCorruptError('corrupt: video metadata number is too long');
}

export function encodeVideoMetadata(info: VideoStreamInfo): Uint8Array {
  const out = [METADATA_VERSION];
  for (const v of [info.width, info.height, info.fps.num, info.fps.den, info.keyFrameInterval]) writeVarint(out, v);
  return Uint8Array.from(out);
}

export function decodeVideoMetadata(bytes: Uint8Array | undefined): VideoStreamInfo {
  if (bytes === undefined || bytes.length === 0) throw new ContainerCorruptError('corrupt: a video container needs its metadata (frame size and rate)');
  if (bytes[0] !== METADATA_VERSION) throw new ContainerCorruptError(`video metadata version ${bytes[0]} is not supported (this build reads ${METADATA_VERSION})`);
  const at = { pos: 1 };
  const [width, height, num, den, keyFrameInterval] = [0, 0, 0, 0, 0].map(() => readVarint(bytes, at)) as [number, number, number, number, number];
  if (at.pos !== bytes.length) throw new ContainerCorruptError('corrupt: trailing bytes in the video metadata');
  if (width < 1 || height < 1 || num < 1 || den < 1 || keyFrameInterval < 1) throw new ContainerCorruptError('corrupt: invalid video size, frame rate or key-frame interval');
  return { width, height, fps: { num, den }, keyFrameInterval };
}

/** Container limits for video: many small segments. Callers reading untrusted files may lower them. */
export const VIDEO_CONTAINER_LIMITS: Readonly<Required<ContainerLimits>> = Object.freeze({
  maxSegments: 1 << 20,
  maxLevels: 64,
  maxCodebookSize: 1 << 16,
  maxSymbolsPerSegment: 1 << 24,
  maxTotalSymbols: 2 ** 27,
  maxMetadataBytes: 64,
});

/** The part of a token frame the container stores (codes may be kept as Uint16 when every codebook has ≤ 65536 codes). */
export interface PackableVideoFrame {
  kind: VideoFrameKind;
  shape: readonly [number, number, number];
  codes: Int32Array | Uint16Array;
}

/**
 * Token frames (in order) → container bytes. Repeat frames are merged into
 * runs; the first frame must be a key frame.
 */
export function packVideoTokens(frames: Iterable<PackableVideoFrame>, space: ImageCodeSpace, info: VideoStreamInfo, limits: ContainerLimits = VIDEO_CONTAINER_LIMITS): Uint8Array {
  const levels = space.codebookSizes.length;
  const f = space.downsampling;
  const grid: [number, number, number] = [Math.ceil(info.height / f), Math.ceil(info.width / f), levels];
  const segments: { tag: number; shape: number[]; codes: ArrayLike<number> }[] = [];
  const kinds: CodedFrameKind[] = [];
  const empty = new Int32Array(0);
  let last: ArrayLike<number> | undefined;
  let index = 0;
  for (const frame of frames) {
    if (frame.shape.some((d, i) => d !== grid[i])) throw new InvalidArgumentError(`frame codes [${frame.shape.join(', ')}] do not match the ${info.width}x${info.height} video's grid [${grid.join(', ')}]`);
    if (segments.length === 0 && frame.kind !== 'key') throw new InvalidArgumentError('the first frame must be a key frame');
    if (frame.codes.length !== grid[0] * grid[1] * grid[2]) throw new InvalidArgumentError(`frame ${index}: ${frame.codes.length} codes for a [${grid.join(', ')}] grid`);
    if (frame.kind === 'repeat' && frame.codes.some((c, i) => c !== last![i])) throw new InvalidArgumentError(`frame ${index} is marked 'repeat' but its codes differ from the previous frame's`);
    last = frame.codes;
    index++;
    if (frame.kind === 'repeat') {
      const run = segments[segments.length - 1]!;
      if (run.tag === VIDEO_TAG_REPEAT) run.shape[0]!++;
      else segments.push({ tag: VIDEO_TAG_REPEAT, shape: [1, 0, levels], codes: empty });
      continue;
    }
    kinds.push(frame.kind);
    segments.push({ tag: frame.kind === 'key' ? VIDEO_TAG_KEY : VIDEO_TAG_DELTA, shape: [...grid], codes: frame.codes });
  }
  if (segments.length === 0) throw new InvalidArgumentError('a video needs at least one frame');
  return writeContainer(
    { modality: 'video', tokenizerId: space.tokenizerId, codebookSizes: space.codebookSizes, metadata: encodeVideoMetadata(info), carryModelState: true },
    segments,
    { model: temporalModelSpec({ frameShape: grid, kinds }), limits },
  );
}

/** A video container's layout, from its header alone. */
export interface VideoContainerInfo extends VideoStreamInfo {
  header: ContainerHeader;
  /** Frames in the video (repeat runs expanded). */
  frames: number;
  keyFrames: number;
  deltaFrames: number;
  repeatFrames: number;
  /** Code grid [h, w, levels] of every frame. */
  codeShape: [number, number, number];
  durationSeconds: number;
}

export interface ReadVideoContainerOptions {
  /** Fail with `TokenizerMismatchError` unless written by this tokenizer (id, codebook sizes, factor). */
  space?: ImageCodeSpace;
  /** Container limits. Default `VIDEO_CONTAINER_LIMITS`. */
  limits?: ContainerLimits;
}

/** Validates a video container's header and layout (no payload decoding). */
export function readVideoContainerInfo(bytes: Uint8Array, options: ReadVideoContainerOptions = {}): VideoContainerInfo {
  const space = options.space;
  const header = readContainerHeader(bytes, { expectedTokenizerId: space?.tokenizerId, limits: options.limits ?? VIDEO_CONTAINER_LIMITS });
  if (header.modality !== 'video') throw new InvalidArgumentError(`the container holds ${header.modality} codes, not a video`);
  const meta = decodeVideoMetadata(header.metadata);
  const levels = header.codebookSizes.length;
  if (space !== undefined && (space.codebookSizes.length !== levels || space.codebookSizes.some((k, l) => k !== header.codebookSizes[l]))) {
    throw new ContainerCorruptError(`corrupt: codebook sizes [${header.codebookSizes.join(', ')}] differ from the tokenizer's [${space.codebookSizes.join(', ')}]`);
  }
  if (header.entropyModel !== 'external' || !header.carryModelState) throw new ContainerCorruptError(`corrupt: video codes must use the temporal model with carried state (found '${header.entropyModel}')`);
  let grid: [number, number, number] | undefined;
  let frames = 0;
  let keyFrames = 0;
  let deltaFrames = 0;
  let repeatFrames = 0;
  for (const [s, seg] of header.segments.entries()) {
    const [a, b] = seg.shape as [number, number, number];
    if (seg.shape.length !== 3) throw new ContainerCorruptError(`corrupt: segment ${s} has rank ${seg.shape.length - 1}, video segments have 2`);
    if (seg.tag === VIDEO_TAG_REPEAT) {
      if (s === 0 || a < 1 || b !== 0 || seg.payloadLength !== 0) throw new ContainerCorruptError(`corrupt: segment ${s} is not a valid repeat run`);
      repeatFrames += a;
      frames += a;
      continue;
    }
    if (seg.tag !== VIDEO_TAG_KEY && seg.tag !== VIDEO_TAG_DELTA) throw new ContainerCorruptError(`corrupt: segment ${s} has unknown tag ${seg.tag}`);
    if (s === 0 && seg.tag !== VIDEO_TAG_KEY) throw new ContainerCorruptError('corrupt: a video starts with a key frame');
    grid ??= [a, b, levels];
    if (a !== grid[0] || b !== grid[1] || a < 1 || b < 1) throw new ContainerCorruptError(`corrupt: segment ${s} grid [${a}, ${b}] differs from the first frame's [${grid[0]}, ${grid[1]}]`);
    if (seg.tag === VIDEO_TAG_KEY) keyFrames++;
    else deltaFrames++;
    frames++;
  }
  if (grid === undefined) throw new ContainerCorruptError('corrupt: the video has no frames');
  if (space !== undefined) {
    const f = space.downsampling;
    if (Math.ceil(meta.height / f) !== grid[0] || Math.ceil(meta.width / f) !== grid[1]) {
      throw new ContainerCorruptError(`corrupt: a ${meta.width}x${meta.height} video does not give the code grid [${grid[0]}, ${grid[1]}] at f=${f}`);
    }
  }
  return { ...meta, header, frames, keyFrames, deltaFrames, repeatFrames, codeShape: grid, durationSeconds: frames / fpsOf(meta.fps) };
}

/** The codes of one stored frame, as `readVideoCodes` yields them. */
export interface VideoCodeFrame {
  index: number;
  timestamp: number;
  kind: VideoFrameKind;
  codes: Int32Array;
}

/**
 * Decodes a container's codes frame by frame (repeat runs expanded), holding
 * one frame of codes at a time. Every failure is a typed `VqkitError`
 * (`ContainerError` for bad bytes).
 */
export function* readVideoCodes(bytes: Uint8Array, info: VideoContainerInfo): Generator<VideoCodeFrame> {
  const { header, codeShape } = info;
  const kinds: CodedFrameKind[] = header.segments.filter((s) => s.tag !== VIDEO_TAG_REPEAT).map((s) => (s.tag === VIDEO_TAG_KEY ? 'key' : 'delta'));
  const spec = temporalModelSpec({ frameShape: codeShape, kinds });
  if (header.modelFingerprint !== Buffer.from(spec.fingerprint!).toString('hex')) {
    throw new EntropyModelMismatchError(`the video was coded with entropy model ${header.modelFingerprint ?? '(none)'}, which this build does not know (it has ${Buffer.from(spec.fingerprint!).toString('hex')})`);
  }
  const models: ProbabilityModel[] = createLevelModels(spec, header.codebookSizes);
  const period = info.fps.den / info.fps.num;
  let index = 0;
  let last: Int32Array | undefined;
  for (const [s, seg] of header.segments.entries()) {
    if (seg.tag === VIDEO_TAG_REPEAT) {
      for (let r = 0; r < seg.shape[0]!; r++) {
        yield { index, timestamp: index * period, kind: 'repeat', codes: last!.slice() };
        index++;
      }
      continue;
    }
    const out = new Int32Array(seg.size);
    try {
      decodeCodeTensor(bytes, seg.shape, models, out, seg.payloadOffset, seg.payloadOffset + seg.payloadLength);
    } catch (err) {
      if (err instanceof EntropyDecodeError) throw new ContainerCorruptError(`corrupt: frame ${index} (segment ${s}) payload: ${err.message}`, { cause: err });
      if (err instanceof VqkitError && !(err instanceof ContainerCorruptError)) throw new ContainerCorruptError(`corrupt: frame ${index} (segment ${s}): ${err.message}`, { cause: err });
      throw err;
    }
    last = out;
    yield { index, timestamp: index * period, kind: seg.tag === VIDEO_TAG_KEY ? 'key' : 'delta', codes: out.slice() };
    index++;
  }
}

/**
 * Codes of several frames → 8-bit RGB frames, one forward pass per batch,
 * cropped to width×height.
 */
export function decodeCodeFrames(tokenizer: ImageTokenizer, codes: readonly Int32Array[], codeShape: readonly [number, number, number], width: number, height: number): Uint8Array[] {
  if (codes.length === 0) return [];
  const [h, w, levels] = codeShape;
  const per = h * w * levels;
  const all = new Int32Array(codes.length * per);
  codes.forEach((c, i) => all.set(c, i * per));
  const shape = levels > 1 ? [codes.length, h, w, levels] : [codes.length, h, w];
  const pixels = tf.tidy(() => {
    const full = tokenizer.model.decode(tf.tensor(all, shape, 'int32'));
    return tf.slice(full, [0, 0, 0, 0], [codes.length, height, width, 3]);
  });
  const data = pixels.dataSync() as Float32Array;
  pixels.dispose();
  const frameSize = height * width * 3;
  return codes.map((_, i) => imageToBytes(data.subarray(i * frameSize, (i + 1) * frameSize)));
}

/** A decoded frame. */
export interface DecodedVideoFrame extends VideoFrame {
  kind: VideoFrameKind;
  codes: Int32Array;
}

export interface DecodeVideoOptions {
  /** Frames decoded per forward pass. Default 8. */
  batchSize?: number;
  /** Container limits. Default `VIDEO_CONTAINER_LIMITS`. */
  limits?: ContainerLimits;
  /** Aborting stops after the current batch. */
  signal?: AbortSignal;
}

/**
 * Container bytes → RGB frames, streamed in order. Checks that `tokenizer`
 * wrote the container (`TokenizerMismatchError`) before decoding anything.
 */
export async function* decodeVideo(bytes: Uint8Array, tokenizer: ImageTokenizer, options: DecodeVideoOptions = {}): AsyncGenerator<DecodedVideoFrame> {
  checkRgbTokenizer(tokenizer);
  const batchSize = positiveInt('batchSize', options.batchSize ?? 8);
  const info = readVideoContainerInfo(bytes, { space: imageCodeSpace(tokenizer), limits: options.limits });
  let batch: VideoCodeFrame[] = [];
  const flush = function* (): Generator<DecodedVideoFrame> {
    const pixels = decodeCodeFrames(tokenizer, batch.map((b) => b.codes), info.codeShape, info.width, info.height);
    for (const [i, b] of batch.entries()) yield { index: b.index, timestamp: b.timestamp, kind: b.kind, codes: b.codes, width: info.width, height: info.height, data: pixels[i]! };
    batch = [];
  };
  for (const frame of readVideoCodes(bytes, info)) {
    options.signal?.throwIfAborted();
    batch.push(frame);
    if (batch.length === batchSize) yield* flush();
  }
  if (batch.length > 0) yield* flush();
}
