/**
 * Image sources for datasets and their decoding into cached 8-bit (or float)
 * pixel records. Every unusable file is reported with its path and a reason;
 * whether that skips the file or aborts is the caller's policy.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FileFormatError, InvalidArgumentError } from '@vqkit/core';
import {
  loadImage,
  loadImageU8,
  probeImageSize,
  type AlphaPolicy,
  type ImageLoadOptions,
  type ImageSize,
  type RawImage,
  type ResizePolicy,
} from '../io.js';
import { readIdxImages, readIdxLabels } from './idx.js';

/** A directory of PNG/JPEG/WebP files. */
export interface FolderSource {
  kind: 'folder';
  /** Directory to scan. */
  path: string;
  /** Descend into subdirectories. Default true. */
  recursive?: boolean;
  /** File extensions to include (lower case, with dot). Default ['.png', '.jpg', '.jpeg', '.webp']. */
  extensions?: string[];
  /**
   * Label each image by its first-level subdirectory (ImageFolder layout:
   * `root/<class>/<file>`); classes are numbered in sorted name order.
   * Files directly in `path` are then reported as unusable. Default false.
   */
  labelsFromSubfolders?: boolean;
}

/** An IDX (MNIST-style) image file with an optional label file; `.gz` is handled. */
export interface IdxSource {
  kind: 'idx';
  /** N×H×W uint8 image file. */
  images: string;
  /** N uint8 label file. */
  labels?: string;
  /** Use only the first `limit` images (quick experiments). Default all. */
  limit?: number;
}

/** A stack of equally sized images in one array, NHWC. */
export interface ImageStack {
  /** Uint8 in 0..255 or Float32 in [0, 1]; count × height × width × channels values. */
  data: Uint8Array | Float32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

/** Images already in memory. */
export interface ArraySource {
  kind: 'arrays';
  /** Individual images (sizes may differ) or one NHWC stack. */
  images: RawImage[] | ImageStack;
  /** One integer label per image. */
  labels?: ArrayLike<number>;
  /** Names used in error messages, one per image. Default `arrays[i]`. */
  names?: string[];
}

export type ImageSource = FolderSource | IdxSource | ArraySource;

/**
 * A dataset image: its geometry, label and name, and its pixels when cached
 * (`data` is undefined for folder images in streaming mode, `cache: false`).
 */
export interface ImageRecord {
  data: Uint8Array | Float32Array | undefined;
  width: number;
  height: number;
  channels: 1 | 3;
  label: number;
  name: string;
}

/** A decoded image held in memory. */
export interface CachedImage {
  /** 8-bit pixels (files, IDX) or float pixels in [0, 1] (float arrays, kept exact). */
  data: Uint8Array | Float32Array;
  width: number;
  height: number;
  channels: 1 | 3;
  /** Class label, or -1 when the source has none. */
  label: number;
  /** File path (or `idx-file[i]`, `arrays[i]`) for messages. */
  name: string;
}

/** A file that could not be used, and why. */
export interface SkippedFile {
  path: string;
  reason: string;
}

/** Decoding options shared by all sources (a subset of the dataset options). */
export interface DecodeOptions {
  channels: 1 | 3;
  alpha: AlphaPolicy;
  size: ImageSize | undefined;
  resize: ResizePolicy | undefined;
  /** Concurrent file decodes. */
  concurrency: number;
  /** Abort once the cache would exceed this many bytes. */
  maxCacheBytes: number;
  /**
   * Decode folder images now and keep their pixels (true), or only read
   * their headers now and decode on demand, per batch (false).
   */
  cache: boolean;
  /** Called for each unusable file; throws to abort (the 'fail' policy). */
  onUnusable: (skipped: SkippedFile, error: unknown) => void;
}

export interface DecodedSource {
  images: ImageRecord[];
  /** Class names (folder sources with `labelsFromSubfolders`). */
  classNames: string[] | undefined;
}

const DEFAULT_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'];

/** Lists image files under `root`, sorted by path (byte order, locale independent) for reproducibility. */
export async function listImageFiles(root: string, recursive = true, extensions = DEFAULT_EXTENSIONS): Promise<string[]> {
  const exts = new Set(extensions.map((e) => e.toLowerCase()));
  const out: string[] = [];
  async function walk(dir: string): Promise<void> {
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new FileFormatError(code === 'ENOENT' ? 'directory not found' : `cannot list directory (${String(code ?? err)})`, dir, { cause: err });
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (recursive) await walk(full);
      } else if ((entry.isFile() || entry.isSymbolicLink()) && exts.has(path.extname(entry.name).toLowerCase())) {
        out.push(full);
      }
    }
  }
  await walk(root);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function reasonOf(err: unknown): string {
  if (err instanceof FileFormatError && err.path !== undefined) {
    // The path is reported separately; keep the reason short.
    return err.message.startsWith(`${err.path}: `) ? err.message.slice(err.path.length + 2) : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

class CacheBudget {
  private used = 0;
  constructor(private readonly limit: number) {}
  add(image: ImageRecord): void {
    if (!image.data) return;
    this.used += image.data.byteLength;
    if (this.used > this.limit) {
      throw new InvalidArgumentError(
        `decoded images exceed the in-memory cache limit of ${(this.limit / 2 ** 20).toFixed(0)} MiB (at ${image.name}); ` +
          `decode to a smaller 'size' or raise 'maxCacheBytes'`,
      );
    }
  }
}

/** Runs `task` over `items` with at most `concurrency` in flight, preserving result order. */
async function mapPool<T, R>(items: T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  async function worker(): Promise<void> {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await task(items[i]!, i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return results;
}

function loadOptions(options: DecodeOptions): ImageLoadOptions {
  return { channels: options.channels, alpha: options.alpha, size: options.size, resize: options.resize };
}

async function decodeFolder(
  source: FolderSource,
  options: DecodeOptions,
  budget: CacheBudget,
  knownClasses: string[] | undefined,
): Promise<DecodedSource> {
  const root = path.resolve(source.path);
  const files = await listImageFiles(root, source.recursive ?? true, source.extensions);
  let classNames: string[] | undefined;
  const labelOf = new Map<string, number>();
  if (source.labelsFromSubfolders && knownClasses) {
    // A validation folder must use the training folder's label numbering.
    classNames = knownClasses;
    classNames.forEach((n, i) => labelOf.set(n, i));
  } else if (source.labelsFromSubfolders) {
    const names = new Set<string>();
    for (const f of files) {
      const rel = path.relative(root, f).split(path.sep);
      if (rel.length > 1) names.add(rel[0]!);
    }
    classNames = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    classNames.forEach((n, i) => labelOf.set(n, i));
  }
  const decoded = await mapPool(files, options.concurrency, async (file): Promise<ImageRecord | undefined> => {
    let label = -1;
    if (classNames) {
      const rel = path.relative(root, file).split(path.sep);
      if (rel.length < 2) {
        options.onUnusable({ path: file, reason: 'not inside a class subfolder (labelsFromSubfolders is set)' }, undefined);
        return undefined;
      }
      const known = labelOf.get(rel[0]!);
      if (known === undefined) {
        options.onUnusable({ path: file, reason: `class subfolder '${rel[0]}' is not one of the training classes` }, undefined);
        return undefined;
      }
      label = known;
    }
    try {
      if (!options.cache) {
        // Streaming: only the header now; pixels are decoded per batch.
        const size = await probeImageSize(file, loadOptions(options));
        return { data: undefined, ...size, channels: options.channels, label, name: file };
      }
      const img = await loadImageU8(file, loadOptions(options));
      const cached: ImageRecord = { ...img, label, name: file };
      budget.add(cached);
      return cached;
    } catch (err) {
      // Only problems with this one file are skippable; anything else is a bug or a configuration error.
      if (!(err instanceof FileFormatError) && !isPerFileArgumentError(err)) throw err;
      options.onUnusable({ path: file, reason: reasonOf(err) }, err);
      return undefined;
    }
  });
  const images = decoded.filter((d): d is ImageRecord => d !== undefined);
  if (images.length === 0) {
    throw new FileFormatError(
      files.length === 0
        ? `no image files (${(source.extensions ?? DEFAULT_EXTENSIONS).join(', ')}) found`
        : `none of the ${files.length} image files could be used`,
      root,
    );
  }
  return { images, classNames };
}

/** A size mismatch under resize policy 'none' is about one file, not the configuration. */
function isPerFileArgumentError(err: unknown): boolean {
  return err instanceof InvalidArgumentError && /resize policy 'none'/.test(err.message);
}

async function decodeIdx(source: IdxSource, options: DecodeOptions, budget: CacheBudget): Promise<DecodedSource> {
  const stack = await readIdxImages(source.images);
  let labels: Uint8Array | undefined;
  if (source.labels !== undefined) {
    labels = await readIdxLabels(source.labels);
    if (labels.length !== stack.count) {
      throw new FileFormatError(`has ${labels.length} labels but ${source.images} has ${stack.count} images`, source.labels);
    }
  }
  const count = source.limit === undefined ? stack.count : Math.min(stack.count, source.limit);
  if (source.limit !== undefined && (!Number.isInteger(source.limit) || source.limit < 1)) {
    throw new InvalidArgumentError(`idx limit must be a positive integer, got ${source.limit}`);
  }
  const pixels = stack.height * stack.width;
  const base = path.basename(source.images);
  const needsWork = options.channels !== 1 || (options.size !== undefined && (options.size.width !== stack.width || options.size.height !== stack.height));
  const images: ImageRecord[] = [];
  for (let i = 0; i < count; i++) {
    const view = stack.data.subarray(i * pixels, (i + 1) * pixels);
    const name = `${base}[${i}]`;
    const label = labels ? labels[i]! : -1;
    let cached: ImageRecord;
    if (!needsWork) {
      cached = { data: view, width: stack.width, height: stack.height, channels: 1, label, name };
    } else {
      const img = await loadImageU8({ data: view, width: stack.width, height: stack.height, channels: 1 }, loadOptions(options));
      cached = { ...img, label, name };
    }
    budget.add(cached);
    images.push(cached);
  }
  return { images, classNames: undefined };
}

async function decodeArrays(source: ArraySource, options: DecodeOptions, budget: CacheBudget): Promise<DecodedSource> {
  const raws: RawImage[] = [];
  if (Array.isArray(source.images)) {
    raws.push(...source.images);
  } else {
    const s = source.images;
    const per = s.height * s.width * s.channels;
    if (!Number.isInteger(s.count) || s.count < 1 || s.data.length !== s.count * per) {
      throw new InvalidArgumentError(
        `image stack data has ${s.data.length} values but ${s.count}x${s.height}x${s.width}x${s.channels} needs ${s.count * per}`,
      );
    }
    for (let i = 0; i < s.count; i++) {
      raws.push({ data: s.data.subarray(i * per, (i + 1) * per), width: s.width, height: s.height, channels: s.channels });
    }
  }
  if (raws.length === 0) throw new InvalidArgumentError('array source has no images');
  if (source.labels !== undefined && source.labels.length !== raws.length) {
    throw new InvalidArgumentError(`array source has ${raws.length} images but ${source.labels.length} labels`);
  }
  const images: ImageRecord[] = [];
  for (let i = 0; i < raws.length; i++) {
    const raw = raws[i]!;
    const name = source.names?.[i] ?? `arrays[${i}]`;
    const label = source.labels ? Number(source.labels[i]) : -1;
    if (!Number.isInteger(label)) throw new InvalidArgumentError(`label of ${name} must be an integer, got ${label}`);
    // Float arrays stay float so in-memory data is not quantised.
    const img = raw.data instanceof Float32Array ? await loadImage(raw, loadOptions(options)) : await loadImageU8(raw, loadOptions(options));
    const cached: ImageRecord = { ...img, label, name };
    budget.add(cached);
    images.push(cached);
  }
  return { images, classNames: undefined };
}

/**
 * Decodes the pixels of an uncached (streaming) folder record. The result
 * must match the size probed at load time; a file that changed or whose
 * pixel data is corrupt throws FileFormatError.
 */
export async function decodeRecord(record: ImageRecord, options: Pick<DecodeOptions, 'channels' | 'alpha' | 'size' | 'resize'>): Promise<Uint8Array> {
  const img = await loadImageU8(record.name, { channels: options.channels, alpha: options.alpha, size: options.size, resize: options.resize });
  if (img.width !== record.width || img.height !== record.height) {
    throw new FileFormatError(`decoded size ${img.width}x${img.height} differs from the header's ${record.width}x${record.height}`, record.name);
  }
  return img.data;
}

/**
 * Decodes a source into image records (in source order, unusable files
 * removed). `knownClasses`: label folder sources with this class list (from
 * the training source) instead of their own subfolders.
 */
export async function decodeSource(source: ImageSource, options: DecodeOptions, knownClasses?: string[]): Promise<DecodedSource> {
  const budget = new CacheBudget(options.maxCacheBytes);
  switch (source.kind) {
    case 'folder':
      return decodeFolder(source, options, budget, knownClasses);
    case 'idx':
      return decodeIdx(source, options, budget);
    case 'arrays':
      return decodeArrays(source, options, budget);
    default:
      throw new InvalidArgumentError(`unknown image source kind '${String((source as { kind: unknown }).kind)}'`);
  }
}
