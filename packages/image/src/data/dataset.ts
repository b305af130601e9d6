/**
 * `ImageDataset`: the training-data abstraction for image tokenizers.
 *
 * All images are decoded once, up front, and cached in memory (8-bit where
 * the source is 8-bit): unusable files are therefore found and reported
 * before the first step, never mid-epoch. Every random choice (split,
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
import type { AlphaPolicy, ImageSize, ResizePolicy } from '../io.js';
import { decodeSource, type CachedImage, type ImageSource, type SkippedFile } from './sources.js';

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
   * Fraction of the source's images held out for validation, chosen by a
   * seeded permutation (at least one image each side when > 0). Default 0.
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
  /** Listener for skipped-file warnings (same as `dataset.on('warning', ...)`, but also sees load-time warnings). */
  onWarning?: (warning: DatasetWarning) => void;
  /** Files decoded concurrently. Default 4. */
  concurrency?: number;
  /** Upper bound for the decoded-pixel cache per source, in bytes. Default 4 GiB. */
  maxCacheBytes?: number;
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

/** A train or validation split: cached images plus the sampling policy. */
export class ImageSplit {
  /** Samples per epoch: images × cropsPerImage for training, one per image for validation. */
  readonly samplesPerEpoch: number;

  /** @internal Built by ImageDataset. */
  constructor(
    readonly name: 'train' | 'validation',
    private readonly images: readonly CachedImage[],
    readonly sampleShape: SampleShape,
    private readonly samplesPerImage: number,
    private readonly flipHorizontal: boolean,
    private readonly rng: Rng,
    readonly hasLabels: boolean,
  ) {
    this.samplesPerEpoch = images.length * samplesPerImage;
  }

  /** Number of distinct images in the split. */
  get imageCount(): number {
    return this.images.length;
  }

  /** The cached full image `i` (8-bit or float pixels), with its label and source name. */
  image(i: number): Readonly<CachedImage> {
    const img = this.images[i];
    if (!img) throw new InvalidArgumentError(`image index ${i} out of range [0, ${this.images.length})`);
    return img;
  }

  /** Labels of all images (-1 = none), in image order. */
  labels(): Int32Array {
    return Int32Array.from(this.images, (img) => img.label);
  }

  /** Batches per epoch for a batch size. */
  batchCount(batchSize: number, dropLast = false): number {
    checkBatchSize(batchSize);
    return dropLast ? Math.floor(this.samplesPerEpoch / batchSize) : Math.ceil(this.samplesPerEpoch / batchSize);
  }

  /** The sample placements of one epoch, in iteration order. Deterministic in (seed, split, epoch, options). */
  private plan(epoch: number, shuffle: boolean, augment: boolean): Placement[] {
    const epochRng = this.rng.fork(`epoch:${epoch}`);
    const n = this.samplesPerEpoch;
    const order = shuffle ? epochRng.fork('order').permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
    const augmentRng = epochRng.fork('augment');
    const { width: cw, height: ch } = this.sampleShape;
    const out: Placement[] = new Array(n);
    for (let p = 0; p < n; p++) {
      const image = Math.floor(order[p]! / this.samplesPerImage);
      const img = this.images[image]!;
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
   */
  async *batches(options: BatchOptions): AsyncGenerator<ImageBatch, void, undefined> {
    const { batchSize } = options;
    checkBatchSize(batchSize);
    const epoch = options.epoch ?? 0;
    if (!Number.isInteger(epoch) || epoch < 0) throw new InvalidArgumentError(`epoch must be a non-negative integer, got ${epoch}`);
    const isTrain = this.name === 'train';
    const plan = this.plan(epoch, options.shuffle ?? isTrain, options.augment ?? isTrain);
    const end = options.dropLast ? plan.length - (plan.length % batchSize) : plan.length;
    for (let start = 0; start < end; start += batchSize) {
      yield this.assemble(plan.slice(start, Math.min(start + batchSize, end)));
    }
  }

  /** A batch of the given images, centre-cropped, unflipped (e.g. a fixed set to visualise reconstructions). */
  batchOf(imageIndices: ArrayLike<number>): ImageBatch {
    const placements: Placement[] = [];
    for (let k = 0; k < imageIndices.length; k++) {
      const i = imageIndices[k]!;
      const img = this.image(i);
      placements.push({
        image: i,
        x: Math.floor((img.width - this.sampleShape.width) / 2),
        y: Math.floor((img.height - this.sampleShape.height) / 2),
        flip: false,
      });
    }
    return this.assemble(placements);
  }

  private assemble(placements: Placement[]): ImageBatch {
    const { width: cw, height: ch, channels: c } = this.sampleShape;
    const n = placements.length;
    const sampleSize = cw * ch * c;
    const images = new Float32Array(n * sampleSize);
    const indices = new Int32Array(n);
    const labels = this.hasLabels ? new Int32Array(n) : undefined;
    for (let s = 0; s < n; s++) {
      const { image, x, y, flip } = placements[s]!;
      const img = this.images[image]!;
      const src = img.data;
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
      onUnusable: (skipped: SkippedFile, error: unknown) => this.unusable(skipped, error, onCorrupt),
    } as const;

    const main = await decodeSource(o.source, decodeOptions);
    let trainImages = main.images;
    let validationImages: CachedImage[] | undefined;
    if (o.validation) {
      validationImages = (await decodeSource(o.validation, decodeOptions)).images;
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
    const train = new ImageSplit('train', trainImages, shape, cropsPerImage, o.flipHorizontal ?? false, root.fork('train'), hasLabels);
    const validation = validationImages
      ? new ImageSplit('validation', validationImages, shape, 1, false, root.fork('validation'), hasLabels)
      : undefined;
    this.loaded = { train, validation, classNames: main.classNames };
    // Files decode concurrently; report them in a stable order.
    this.skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return this;
  }

  private dropTooSmall(images: CachedImage[], crop: ImageSize, policy: CorruptFilePolicy): CachedImage[] {
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
    this.skipped.push(skipped);
    this.emit('warning', { kind: 'skipped-file', path: skipped.path, reason: skipped.reason, message: `skipped ${skipped.path}: ${skipped.reason}` });
  }
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

/** A batch as a float32 NHWC tensor (caller disposes). */
export function batchToTensor(batch: ImageBatch): tf.Tensor4D {
  return tf.tensor4d(batch.images, batch.shape, 'float32');
}
