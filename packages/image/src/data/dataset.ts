/**
 * `ImageDataset`: the training-data abstraction for image tokenizers.
 *
 * By default all images are decoded once, up front, and cached in memory
 * (8-bit where the source is 8-bit): unusable files are found and reported
 * before the first step. Folders too large to hold decoded can be streamed
 * (`cache: false`): headers are read at load, pixels are decoded per batch
 * one batch ahead, and a file that fails then is reported and left out (or,
 * under onCorrupt 'fail', the iterator throws) — never a crash that loses
 * the path. Every random choice (split,
 * shuffle order, crop offsets, flips) comes from a seeded `Rng` forked per
 * purpose and per epoch, so epoch `e` yields exactly the same batches on
 * every run and after a resume, independent of the batch size.
 *
 * Usage:
 * ```ts
 * const data = await ImageDataset.load({
 *   source: { kind: 'folder', path: 'photos' },
 *   validationFraction: 0.1, cropSize: 64, cropsPerImage: 8, flipHorizontal: true, seed: 1,
 * });
 * for await (const batch of data.train.batches({ batchSize: 16, epoch })) { ... batch.images ... }
 * ```
 */
import { EventEmitter } from 'node:events';
import * as tf from '@tensorflow/tfjs';
import { FileFormatError, InvalidArgumentError, Rng, type Seed } from '@vqkit/core';
import type { AlphaPolicy, ImageF32, ImageSize, ResizePolicy } from '../io.js';
import { decodeRecord, decodeSource, type CachedImage, type ImageRecord, type ImageSource, type SkippedFile } from './sources.js';

/** What to do with a file that cannot be decoded or used. */
export type CorruptFilePolicy = 'skip' | 'fail';

/** Emitted (event `'warning'`) for each skipped file. */
export interface DatasetWarning {
  kind: 'skipped-file';
  path: string;
  reason: string;
  /** One-line human-readable message. */
  message: string;
}

export interface ImageDatasetOptions {
  /** Where the (training) images come from. */
  source: ImageSource;
  /** Explicit validation images (e.g. Fashion-MNIST's t10k files). Exclusive with `validationFraction`. */
  validation?: ImageSource;
  /**
   * Fraction of the source's usable images held out for validation, chosen
   * by a seeded permutation (at least one image each side when > 0).
   * Default 0.
   */
  validationFraction?: number;
  /** Channels of the samples: 1 (luma) or 3 (RGB). Default 1 for IDX sources, 3 otherwise. */
  channels?: 1 | 3;
  /** Alpha handling while decoding. Default 'flatten-white'. */
  alpha?: AlphaPolicy;
  /** Decode every image to this size (see `resize`). Default: keep decoded sizes. */
  size?: ImageSize | number;
  /** How images reach `size`. Default 'center-crop' when `size` is given. */
  resize?: ResizePolicy;
  /**
   * Sample size. Training samples are random crops of this size (validation:
   * the centre crop). Required when decoded images differ in size. Images
   * smaller than the crop are unusable. Default: the full decoded image.
   */
  cropSize?: ImageSize | number;
  /** Training samples drawn per image per epoch (different random crops). Default 1. */
  cropsPerImage?: number;
  /** Randomly mirror training samples left-right with probability 0.5. Default false. */
  flipHorizontal?: boolean;
  /** Seed for the split, shuffling and augmentation. Default 0. */
  seed?: Seed;
  /** 'skip' (report and continue) or 'fail' (throw FileFormatError) on unusable files. Default 'skip'. */
  onCorrupt?: CorruptFilePolicy;
  /**
   * Listener for skipped-file warnings (same as `dataset.on('warning', ...)`,
   * but also sees load-time warnings). Without any listener, warnings go to
   * `process.emitWarning`.
   */
  onWarning?: (warning: DatasetWarning) => void;
  /** Files decoded concurrently. Default 4. */
  concurrency?: number;
  /** Upper bound for the decoded-pixel cache per source, in bytes. Default 4 GiB. */
  maxCacheBytes?: number;
  /**
   * Folder sources: decode every image once at load and keep the pixels in
   * memory (true), or read only the headers at load and decode the images of
   * each batch on demand, one batch ahead (false) — for folders too large to
   * hold decoded. IDX and array sources are always in memory. Default true.
   */
  cache?: boolean;
  /**
   * Streaming mode: bytes of recently decoded images kept for reuse (an
   * image's several crops per epoch, and images seen again soon). Default 256 MiB.
   */
  streamCacheBytes?: number;
}

/** One batch, NHWC float32 in [0, 1]. */
export interface ImageBatch {
  /** size × height × width × channels values. */
  images: Float32Array;
  /** Label per sample (-1 where the source has none); undefined if the split has no labels. */
  labels: Int32Array | undefined;
  /** Index into the split's images (`split.image(i)`) of each sample. */
  indices: Int32Array;
  size: number;
  height: number;
  width: number;
  channels: number;
  /** [size, height, width, channels], for tf.tensor4d. */
  shape: [number, number, number, number];
}

export interface BatchOptions {
  /** Samples per batch. */
  batchSize: number;
  /** Epoch number; selects the shuffle order and augmentation draws. Default 0. */
  epoch?: number;
  /** Shuffle the sample order. Default true for the training split, false for validation. */
  shuffle?: boolean;
  /** Random crops and flips (when configured). Default true for training, false for validation (centre crops). */
  augment?: boolean;
  /** Drop a final batch smaller than `batchSize`. Default false. */
  dropLast?: boolean;
}

/** Sample geometry: crop size and channels. */
export interface SampleShape {
  height: number;
  width: number;
  channels: 1 | 3;
}

interface Placement {
  image: number;
  x: number;
  y: number;
  flip: boolean;
}

/**
 * Loads the pixels of an uncached record; resolves to undefined when the
 * file turned out to be unusable and was skipped (the dataset has reported
 * it), throws under the 'fail' policy.
 */
export type PixelLoader = (record: ImageRecord) => Promise<Uint8Array | Float32Array | undefined>;

/** Identity of one dataset image, available without decoding it. */
export interface ImageInfo {
  name: string;
  label: number;
  width: number;
  height: number;
}

/** A train or validation split: images plus the sampling policy. */
export class ImageSplit {
  /** Images whose (streamed) decode failed; excluded from later epochs. */
  private readonly broken = new Set<number>();

  /** @internal Built by ImageDataset. */
  constructor(
    readonly name: 'train' | 'validation',
    private readonly records: readonly ImageRecord[],
    readonly sampleShape: SampleShape,
    private readonly samplesPerImage: number,
    private readonly flipHorizontal: boolean,
    private readonly rng: Rng,
    readonly hasLabels: boolean,
    private readonly loadPixels: PixelLoader,
    private readonly concurrency: number,
  ) {}

  /** Number of distinct images in the split. */
  get imageCount(): number {
    return this.records.length;
  }

  /** Samples per epoch: usable images × cropsPerImage for training, one per image for validation. */
  get samplesPerEpoch(): number {
    return (this.records.length - this.broken.size) * this.samplesPerImage;
  }

  /** True when all pixels are in memory (`image` and `batchOf` work synchronously). */
  get cached(): boolean {
    return this.records.every((r) => r.data !== undefined);
  }

  private record(i: number): ImageRecord {
    const r = this.records[i];
    if (!r) throw new InvalidArgumentError(`image index ${i} out of range [0, ${this.records.length})`);
    return r;
  }

  /** Name, label and decoded size of image `i` (no decoding needed). */
  info(i: number): ImageInfo {
    const { name, label, width, height } = this.record(i);
    return { name, label, width, height };
  }

  /** The cached full image `i`. Streaming datasets (`cache: false`) must use {@link loadImage}. */
  image(i: number): Readonly<CachedImage> {
    const r = this.record(i);
    if (!r.data) throw new InvalidArgumentError(`image ${i} (${r.name}) is not cached (cache: false); use await split.loadImage(${i})`);
    return r as CachedImage;
  }

  /** Full image `i`, decoding it if it is not cached. Throws FileFormatError if it cannot be decoded. */
  async loadImage(i: number): Promise<CachedImage> {
    const r = this.record(i);
    if (r.data) return r as CachedImage;
    const data = await this.loadPixels(r);
    if (!data) {
      this.broken.add(i);
      throw new FileFormatError('image could not be decoded (reported as skipped)', r.name);
    }
    return { ...r, data };
  }

  /** Labels of all images (-1 = none), in image order. */
  labels(): Int32Array {
    return Int32Array.from(this.records, (img) => img.label);
  }

  /** Batches per epoch for a batch size. */
  batchCount(batchSize: number, dropLast = false): number {
    checkBatchSize(batchSize);
    return dropLast ? Math.floor(this.samplesPerEpoch / batchSize) : Math.ceil(this.samplesPerEpoch / batchSize);
  }

  /** The sample placements of one epoch, in iteration order. Deterministic in (seed, split, epoch, options). */
  private plan(epoch: number, shuffle: boolean, augment: boolean): Placement[] {
    const epochRng = this.rng.fork(`epoch:${epoch}`);
    const usable: number[] = [];
    for (let i = 0; i < this.records.length; i++) if (!this.broken.has(i)) usable.push(i);
    const n = usable.length * this.samplesPerImage;
    const order = shuffle ? epochRng.fork('order').permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
    const augmentRng = epochRng.fork('augment');
    const { width: cw, height: ch } = this.sampleShape;
    const out: Placement[] = new Array(n);
    for (let p = 0; p < n; p++) {
      const image = usable[Math.floor(order[p]! / this.samplesPerImage)]!;
      const img = this.records[image]!;
      let x: number;
      let y: number;
      let flip = false;
      if (augment) {
        // Draw order is fixed per position, so results do not depend on batching.
        x = augmentRng.int(img.width - cw + 1);
        y = augmentRng.int(img.height - ch + 1);
        if (this.flipHorizontal) flip = augmentRng.bernoulli(0.5);
      } else {
        x = Math.floor((img.width - cw) / 2);
        y = Math.floor((img.height - ch) / 2);
      }
      out[p] = { image, x, y, flip };
    }
    return out;
  }

  /**
   * Iterates over one epoch in batches. The same (epoch, options) always give
   * the same batches; different epochs give different orders and crops.
   * Streaming datasets decode the next batch while the current one is in use;
   * a file that fails to decode is reported and its samples are left out of
   * the batch (or, under onCorrupt 'fail', the iterator throws FileFormatError).
   */
  async *batches(options: BatchOptions): AsyncGenerator<ImageBatch, void, undefined> {
    const { batchSize } = options;
    checkBatchSize(batchSize);
    const epoch = options.epoch ?? 0;
    if (!Number.isInteger(epoch) || epoch < 0) throw new InvalidArgumentError(`epoch must be a non-negative integer, got ${epoch}`);
    const isTrain = this.name === 'train';
    const plan = this.plan(epoch, options.shuffle ?? isTrain, options.augment ?? isTrain);
    const end = options.dropLast ? plan.length - (plan.length % batchSize) : plan.length;
    const slice = (start: number) => plan.slice(start, Math.min(start + batchSize, end));
    if (end === 0) return;
    let pending: Promise<ImageBatch> | undefined = this.assembleAsync(slice(0));
    try {
      for (let start = 0; start < end; start += batchSize) {
        const batch: ImageBatch = await pending!;
        // Prefetch: decoding (in sharp's thread pool) overlaps the caller's work on this batch.
        pending = start + batchSize < end ? this.assembleAsync(slice(start + batchSize)) : undefined;
        if (batch.size > 0) yield batch;
      }
    } finally {
      // The consumer may stop early; do not leave a rejected prefetch unobserved.
      pending?.catch(() => undefined);
    }
  }

  /** A batch of the given cached images, centre-cropped, unflipped (e.g. a fixed set to visualise). */
  batchOf(imageIndices: ArrayLike<number>): ImageBatch {
    return this.assemble(this.centrePlacements(imageIndices), (r) => {
      if (!r.data) throw new InvalidArgumentError(`image ${r.name} is not cached (cache: false); use await split.loadBatchOf(...)`);
      return r.data;
    });
  }

  /** Like {@link batchOf}, decoding images that are not cached. Throws FileFormatError if one cannot be decoded. */
  async loadBatchOf(imageIndices: ArrayLike<number>): Promise<ImageBatch> {
    const placements = this.centrePlacements(imageIndices);
    const pixels = new Map<number, Uint8Array | Float32Array>();
    for (const p of placements) if (!pixels.has(p.image)) pixels.set(p.image, (await this.loadImage(p.image)).data);
    return this.assemble(placements, (_, i) => pixels.get(i)!);
  }

  private centrePlacements(imageIndices: ArrayLike<number>): Placement[] {
    const placements: Placement[] = [];
    for (let k = 0; k < imageIndices.length; k++) {
      const i = imageIndices[k]!;
      const r = this.record(i);
      placements.push({
        image: i,
        x: Math.floor((r.width - this.sampleShape.width) / 2),
        y: Math.floor((r.height - this.sampleShape.height) / 2),
        flip: false,
      });
    }
    return placements;
  }

  private async assembleAsync(placements: Placement[]): Promise<ImageBatch> {
    // Images found broken earlier in this epoch are not retried.
    placements = placements.filter((p) => !this.broken.has(p.image));
    const missing = [...new Set(placements.filter((p) => !this.records[p.image]!.data).map((p) => p.image))];
    if (missing.length === 0) return this.assemble(placements, (r) => r.data!);
    const decoded = new Map<number, Uint8Array | Float32Array>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < missing.length) {
        const i = missing[next++]!;
        const data = await this.loadPixels(this.records[i]!);
        if (data) decoded.set(i, data);
        else this.broken.add(i);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, missing.length) }, worker));
    const kept = placements.filter((p) => this.records[p.image]!.data || decoded.has(p.image));
    return this.assemble(kept, (r, i) => r.data ?? decoded.get(i)!);
  }

  private assemble(placements: Placement[], pixelsOf: (record: ImageRecord, index: number) => Uint8Array | Float32Array): ImageBatch {
    const { width: cw, height: ch, channels: c } = this.sampleShape;
    const n = placements.length;
    const sampleSize = cw * ch * c;
    const images = new Float32Array(n * sampleSize);
    const indices = new Int32Array(n);
    const labels = this.hasLabels ? new Int32Array(n) : undefined;
    for (let s = 0; s < n; s++) {
      const { image, x, y, flip } = placements[s]!;
      const img = this.records[image]!;
      const src = pixelsOf(img, image);
      const scale = src instanceof Float32Array ? 1 : 1 / 255;
      const rowStride = img.width * c;
      let dst = s * sampleSize;
      for (let row = 0; row < ch; row++) {
        const rowStart = (y + row) * rowStride + x * c;
        if (!flip) {
          for (let k = 0; k < cw * c; k++) images[dst++] = src[rowStart + k]! * scale;
        } else {
          for (let col = cw - 1; col >= 0; col--) {
            const p = rowStart + col * c;
            for (let k = 0; k < c; k++) images[dst++] = src[p + k]! * scale;
          }
        }
      }
      indices[s] = image;
      if (labels) labels[s] = img.label;
    }
    return { images, labels, indices, size: n, height: ch, width: cw, channels: c, shape: [n, ch, cw, c] };
  }
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`batchSize must be a positive integer, got ${batchSize}`);
}

function resolveSize(size: ImageSize | number | undefined, what: string): ImageSize | undefined {
  if (size === undefined) return undefined;
  const s = typeof size === 'number' ? { width: size, height: size } : size;
  if (!Number.isInteger(s.width) || s.width < 1 || !Number.isInteger(s.height) || s.height < 1) {
    throw new InvalidArgumentError(`${what} must be positive integers, got ${s.width}x${s.height}`);
  }
  return s;
}

interface EventMap {
  warning: [DatasetWarning];
}

/**
 * Train/validation image data with seeded shuffling and augmentation.
 * Create with `ImageDataset.load(options)`, or `new ImageDataset(options)`
 * then `await dataset.load()` to attach listeners first.
 */
export class ImageDataset extends EventEmitter<EventMap> {
  private loaded: { train: ImageSplit; validation: ImageSplit | undefined; classNames: string[] | undefined } | undefined;
  private loading: Promise<this> | undefined;
  /** Files that were skipped, with reasons (filled during load). */
  readonly skipped: SkippedFile[] = [];

  constructor(readonly options: Readonly<ImageDatasetOptions>) {
    super();
    if (options.onWarning) this.on('warning', options.onWarning);
  }

  /** Creates and loads a dataset. */
  static async load(options: ImageDatasetOptions): Promise<ImageDataset> {
    return new ImageDataset(options).load();
  }

  /** Decodes all sources (once; later calls return the same promise). */
  load(): Promise<this> {
    this.loading ??= this.doLoad();
    return this.loading;
  }

  private get ready(): NonNullable<ImageDataset['loaded']> {
    if (!this.loaded) throw new InvalidArgumentError('ImageDataset is not loaded yet: await dataset.load() first');
    return this.loaded;
  }

  /** The training split. */
  get train(): ImageSplit {
    return this.ready.train;
  }

  /** The validation split, if one was configured. */
  get validation(): ImageSplit | undefined {
    return this.ready.validation;
  }

  /** Class names for folder sources with `labelsFromSubfolders` (label i ↔ classNames[i]). */
  get classNames(): string[] | undefined {
    return this.ready.classNames;
  }

  /** Shape of every sample: crop size (or image size) and channels. */
  get sampleShape(): SampleShape {
    return this.ready.train.sampleShape;
  }

  private async doLoad(): Promise<this> {
    const o = this.options;
    const fraction = o.validationFraction ?? 0;
    if (!(fraction >= 0 && fraction < 1)) throw new InvalidArgumentError(`validationFraction must be in [0, 1), got ${fraction}`);
    if (fraction > 0 && o.validation) throw new InvalidArgumentError('give either validationFraction or a validation source, not both');
    const cropsPerImage = o.cropsPerImage ?? 1;
    if (!Number.isInteger(cropsPerImage) || cropsPerImage < 1) throw new InvalidArgumentError(`cropsPerImage must be a positive integer, got ${cropsPerImage}`);
    const onCorrupt = o.onCorrupt ?? 'skip';
    if (onCorrupt !== 'skip' && onCorrupt !== 'fail') throw new InvalidArgumentError(`onCorrupt must be 'skip' or 'fail', got '${String(onCorrupt)}'`);
    const concurrency = o.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new InvalidArgumentError(`concurrency must be a positive integer, got ${concurrency}`);
    const size = resolveSize(o.size, 'size');
    const crop = resolveSize(o.cropSize, 'cropSize');
    const channels = o.channels ?? (o.source.kind === 'idx' ? 1 : 3);
    if (channels !== 1 && channels !== 3) throw new InvalidArgumentError(`channels must be 1 or 3, got ${String(channels)}`);
    const root = new Rng(o.seed ?? 0);

    const decodeOptions = {
      channels,
      alpha: o.alpha ?? 'flatten-white',
      size,
      resize: o.resize,
      concurrency,
      maxCacheBytes: o.maxCacheBytes ?? 4 * 2 ** 30,
      cache: o.cache ?? true,
      onUnusable: (skipped: SkippedFile, error: unknown) => this.unusable(skipped, error, onCorrupt),
    } as const;

    const main = await decodeSource(o.source, decodeOptions);
    let trainImages = main.images;
    let validationImages: ImageRecord[] | undefined;
    if (o.validation) {
      validationImages = (await decodeSource(o.validation, decodeOptions, main.classNames)).images;
    } else if (fraction > 0) {
      const n = trainImages.length;
      const nVal = Math.round(n * fraction);
      if (nVal < 1 || n - nVal < 1) {
        throw new InvalidArgumentError(`validationFraction ${fraction} of ${n} usable images leaves an empty train or validation split`);
      }
      const perm = root.fork('split').permutation(n);
      const isVal = new Uint8Array(n);
      for (let k = 0; k < nVal; k++) isVal[perm[k]!] = 1;
      validationImages = trainImages.filter((_, i) => isVal[i] === 1);
      trainImages = trainImages.filter((_, i) => isVal[i] === 0);
    }

    // Sample size: the crop, or the common image size.
    let sample: ImageSize;
    if (crop) {
      sample = crop;
      trainImages = this.dropTooSmall(trainImages, crop, onCorrupt);
      if (validationImages) validationImages = this.dropTooSmall(validationImages, crop, onCorrupt);
      if (trainImages.length === 0) throw new FileFormatError(`no image is at least ${crop.width}x${crop.height} (cropSize)`, sourceLabel(o.source));
      if (validationImages?.length === 0) throw new FileFormatError(`no validation image is at least ${crop.width}x${crop.height} (cropSize)`, sourceLabel(o.validation ?? o.source));
    } else {
      const first = trainImages[0]!;
      sample = { width: first.width, height: first.height };
      const odd = [...trainImages, ...(validationImages ?? [])].find((img) => img.width !== sample.width || img.height !== sample.height);
      if (odd) {
        throw new InvalidArgumentError(
          `images differ in size (${first.name} is ${first.width}x${first.height}, ${odd.name} is ${odd.width}x${odd.height}); ` +
            `set 'size' (with a resize policy) or 'cropSize'`,
        );
      }
    }

    const hasLabels = [...trainImages, ...(validationImages ?? [])].some((img) => img.label >= 0);
    const shape: SampleShape = { height: sample.height, width: sample.width, channels };
    const recent = new RecentPixels(o.streamCacheBytes ?? 256 * 2 ** 20);
    const loadPixels: PixelLoader = async (record) => {
      const hit = recent.get(record.name);
      if (hit) return hit;
      try {
        const data = await decodeRecord(record, decodeOptions);
        recent.set(record.name, data);
        return data;
      } catch (err) {
        if (!(err instanceof FileFormatError)) throw err;
        this.unusable({ path: record.name, reason: reasonOf(err) }, err, onCorrupt);
        return undefined;
      }
    };
    const train = new ImageSplit('train', trainImages, shape, cropsPerImage, o.flipHorizontal ?? false, root.fork('train'), hasLabels, loadPixels, concurrency);
    const validation = validationImages
      ? new ImageSplit('validation', validationImages, shape, 1, false, root.fork('validation'), hasLabels, loadPixels, concurrency)
      : undefined;
    this.loaded = { train, validation, classNames: main.classNames };
    // Files decode concurrently; report them in a stable order.
    this.skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return this;
  }

  private dropTooSmall(images: ImageRecord[], crop: ImageSize, policy: CorruptFilePolicy): ImageRecord[] {
    return images.filter((img) => {
      if (img.width >= crop.width && img.height >= crop.height) return true;
      this.unusable(
        { path: img.name, reason: `image is ${img.width}x${img.height}, smaller than cropSize ${crop.width}x${crop.height}` },
        undefined,
        policy,
      );
      return false;
    });
  }

  private unusable(skipped: SkippedFile, error: unknown, policy: CorruptFilePolicy): void {
    if (policy === 'fail') {
      throw error instanceof FileFormatError ? error : new FileFormatError(skipped.reason, skipped.path, { cause: error });
    }
    // A streamed file can fail in two prefetched batches at once: report it once.
    if (this.skipped.some((s) => s.path === skipped.path)) return;
    this.skipped.push(skipped);
    const warning: DatasetWarning = { kind: 'skipped-file', path: skipped.path, reason: skipped.reason, message: `skipped ${skipped.path}: ${skipped.reason}` };
    // Never silent: without a listener the warning goes to Node's process warnings (stderr).
    if (this.listenerCount('warning') > 0) this.emit('warning', warning);
    else process.emitWarning(warning.message, { code: 'VQKIT_DATASET_SKIPPED_FILE' });
  }
}

function reasonOf(err: FileFormatError): string {
  return err.path !== undefined && err.message.startsWith(`${err.path}: `) ? err.message.slice(err.path.length + 2) : err.message;
}

function sourceLabel(source: ImageSource): string {
  switch (source.kind) {
    case 'folder':
      return source.path;
    case 'idx':
      return source.images;
    case 'arrays':
      return 'arrays';
  }
}

/** A byte-bounded least-recently-used map of decoded pixels (streaming mode). */
class RecentPixels {
  private readonly entries = new Map<string, Uint8Array>();
  private bytes = 0;
  constructor(private readonly limit: number) {
    if (!(limit >= 0)) throw new InvalidArgumentError(`streamCacheBytes must be >= 0, got ${limit}`);
  }
  get(key: string): Uint8Array | undefined {
    const value = this.entries.get(key);
    if (value) {
      // Re-insert: Map iteration order is insertion order, so this marks it most recent.
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }
  set(key: string, value: Uint8Array): void {
    if (value.byteLength > this.limit || this.entries.has(key)) return;
    this.entries.set(key, value);
    this.bytes += value.byteLength;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.limit) break;
      this.entries.delete(k);
      this.bytes -= v.byteLength;
    }
  }
}

/** The samples of a batch as separate images (views into `batch.images`, no copy), e.g. for `imageGrid`. */
export function batchImages(batch: ImageBatch): ImageF32[] {
  const per = batch.height * batch.width * batch.channels;
  return Array.from({ length: batch.size }, (_, i) => ({
    data: batch.images.subarray(i * per, (i + 1) * per),
    width: batch.width,
    height: batch.height,
    channels: batch.channels as 1 | 3,
  }));
}

/** A batch as a float32 NHWC tensor (caller disposes). */
export function batchToTensor(batch: ImageBatch): tf.Tensor4D {
  return tf.tensor4d(batch.images, batch.shape, 'float32');
}
