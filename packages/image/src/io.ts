/**
 * Image I/O: decode files/buffers/raw pixels into normalised HWC pixel arrays
 * with an explicit channel and resize policy, and encode pixel arrays back to
 * PNG/JPEG/WebP. Decoding and resampling go through sharp (libvips); channel
 * conversion, alpha handling and padding are done here in JS so they are
 * exact and identical for every input kind.
 *
 * Pixel layout everywhere: row-major HWC (height, width, channels), the
 * layout tfjs uses for NHWC image tensors.
 */
import * as path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { FileFormatError, InvalidArgumentError, writeFileAtomicAsync } from '@vqkit/core';

/** Raw pixels in HWC layout. Uint8 data is in 0..255, Float32 data in [0, 1]. */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray | Float32Array;
  width: number;
  height: number;
  /** 1 = gray, 2 = gray+alpha, 3 = RGB, 4 = RGBA. */
  channels: number;
}

/** Normalised float pixels in [0, 1], HWC. */
export interface ImageF32 {
  data: Float32Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

/** 8-bit pixels, HWC. The compact form datasets cache. */
export interface ImageU8 {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

/**
 * What can be loaded: a file path, encoded file bytes (PNG/JPEG/WebP/...),
 * a sharp pipeline, or raw pixels.
 */
export type ImageInput = string | Uint8Array | sharp.Sharp | RawImage;

/**
 * How to bring an image to the target `size`:
 * - `'none'`: keep the image as it is; `size`, if given, is only checked
 *   (a mismatch is an InvalidArgumentError).
 * - `'center-crop'`: scale (aspect preserved) so the image covers the target,
 *   then crop the centre — no distortion, loses the borders.
 * - `'resize'`: stretch to exactly the target size (aspect ratio not preserved).
 * - `'pad'`: scale (aspect preserved) so the image fits inside the target,
 *   then pad the borders evenly with `padValue` — nothing lost, no distortion.
 * Images already of the target size are never resampled.
 */
export type ResizePolicy = 'none' | 'center-crop' | 'resize' | 'pad';

/** Width and height in pixels. */
export interface ImageSize {
  width: number;
  height: number;
}

/** How alpha is removed: composited over white, or simply discarded. */
export type AlphaPolicy = 'flatten-white' | 'drop';

export interface ImageLoadOptions {
  /**
   * Output channels. 3: gray inputs are replicated to RGB. 1: colour inputs
   * are converted to luma Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601,
   * as PIL's 'L' mode). Default 3.
   */
  channels?: 1 | 3;
  /** Alpha handling. Default 'flatten-white' (transparent pixels become white, as viewers show them). */
  alpha?: AlphaPolicy;
  /** Target size; a number means a square. Default: keep the decoded size. */
  size?: ImageSize | number;
  /** How to reach `size`. Default 'center-crop' when `size` is given, otherwise 'none'. */
  resize?: ResizePolicy;
  /** Fill value in [0, 1] for the 'pad' policy (all channels). Default 0 (black). */
  padValue?: number;
  /** Apply the EXIF orientation of encoded inputs (camera photos). Default true. */
  autoOrient?: boolean;
}

export type ImageFormat = 'png' | 'jpeg' | 'webp';

export interface ImageEncodeOptions {
  /** JPEG/WebP quality 1..100. Default 90. Ignored for PNG (always lossless). */
  quality?: number;
  /** WebP only: lossless encoding. Default false. */
  lossless?: boolean;
}

const LUMA_R = 0.299;
const LUMA_G = 0.587;
const LUMA_B = 0.114;

function describeInput(input: ImageInput): string | undefined {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return '<encoded buffer>';
  if (isRawImage(input)) return undefined;
  return '<sharp pipeline>';
}

/** True for the `{data, width, height, channels}` raw-pixel form. */
export function isRawImage(value: unknown): value is RawImage {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return false;
  const v = value as Partial<RawImage>;
  return (
    (v.data instanceof Uint8Array || v.data instanceof Uint8ClampedArray || v.data instanceof Float32Array) &&
    typeof v.width === 'number' &&
    typeof v.height === 'number' &&
    typeof v.channels === 'number'
  );
}

/** Validates a raw image's geometry against its data length. */
export function validateRawImage(image: RawImage, what = 'image'): void {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw new InvalidArgumentError(`${what}: width and height must be positive integers, got ${width}x${height}`);
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > 4) {
    throw new InvalidArgumentError(`${what}: channels must be 1..4, got ${channels}`);
  }
  if (data.length !== width * height * channels) {
    throw new InvalidArgumentError(
      `${what}: data has ${data.length} values but ${width}x${height}x${channels} needs ${width * height * channels}`,
    );
  }
}

const RESIZE_POLICIES: readonly ResizePolicy[] = ['none', 'center-crop', 'resize', 'pad'];

/** The effective resize policy (default depends on whether a size is given), validated. */
function resolvePolicy(policy: ResizePolicy | undefined, size: ImageSize | undefined): ResizePolicy {
  const resolved = policy ?? (size ? 'center-crop' : 'none');
  if (!RESIZE_POLICIES.includes(resolved)) {
    throw new InvalidArgumentError(`unknown resize policy '${String(resolved)}'; use one of ${RESIZE_POLICIES.join(', ')}`);
  }
  return resolved;
}

function resolveSize(size: ImageSize | number | undefined): ImageSize | undefined {
  if (size === undefined) return undefined;
  const s = typeof size === 'number' ? { width: size, height: size } : size;
  if (!Number.isInteger(s.width) || s.width < 1 || !Number.isInteger(s.height) || s.height < 1) {
    throw new InvalidArgumentError(`size must be positive integers, got ${s.width}x${s.height}`);
  }
  return s;
}

interface DecodedRaw {
  /** 0..255 values (Uint8) or 0..1 values (Float32). */
  data: Uint8Array | Float32Array;
  width: number;
  height: number;
  channels: number;
  /** Set by the 'pad' policy: the letterbox size to centre the pixels in. */
  padTo?: ImageSize;
}

/** Decodes any input to raw pixels (channels as stored, alpha included), applying the geometric policy. */
async function decodeRaw(input: ImageInput, options: ImageLoadOptions): Promise<DecodedRaw> {
  const size = resolveSize(options.size);
  const policy = resolvePolicy(options.resize, size);
  const label = describeInput(input);

  if (isRawImage(input)) {
    validateRawImage(input);
    const data = input.data instanceof Uint8ClampedArray ? new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.length) : input.data;
    const raw: DecodedRaw = { data, width: input.width, height: input.height, channels: input.channels };
    if (!size || policy === 'none' || (size.width === raw.width && size.height === raw.height)) {
      checkNoneSize(raw, size, policy, label);
      return raw;
    }
    // Geometric ops go through sharp, which resamples 8-bit data here: float
    // inputs are quantised to 8 bits on this path only.
    const u8 = data instanceof Float32Array ? floatToUint8(data) : data;
    const pipeline = sharp(u8, { raw: { width: raw.width, height: raw.height, channels: raw.channels as 1 | 2 | 3 | 4 } });
    return runSharp(pipeline, size, policy, label);
  }

  let pipeline: sharp.Sharp;
  if (typeof input === 'string') pipeline = sharp(input, { failOn: 'warning' });
  else if (input instanceof Uint8Array) pipeline = sharp(input, { failOn: 'warning' });
  else pipeline = input.clone();
  if (options.autoOrient ?? true) pipeline = pipeline.rotate();
  let meta: sharp.Metadata;
  try {
    // Metadata only reads the header: needed to skip resampling when the
    // image already has the target size.
    meta = await pipeline.metadata();
  } catch (err) {
    throw wrapDecodeError(err, label);
  }
  const oriented = (meta.orientation ?? 1) >= 5 && (options.autoOrient ?? true);
  const width = oriented ? meta.height : meta.width;
  const height = oriented ? meta.width : meta.height;
  const needsResize = size !== undefined && policy !== 'none' && (width !== size.width || height !== size.height);
  const raw = await runSharp(pipeline, needsResize ? size : undefined, policy, label);
  checkNoneSize(raw, size, policy, label);
  return raw;
}

function checkNoneSize(raw: DecodedRaw, size: ImageSize | undefined, policy: ResizePolicy, label: string | undefined): void {
  if (policy === 'none' && size && (raw.width !== size.width || raw.height !== size.height)) {
    const where = label ? `${label}: ` : '';
    throw new InvalidArgumentError(
      `${where}image is ${raw.width}x${raw.height} but ${size.width}x${size.height} is required with resize policy 'none'; use 'center-crop', 'resize' or 'pad'`,
    );
  }
}

function wrapDecodeError(err: unknown, label: string | undefined): FileFormatError {
  const message = err instanceof Error ? err.message : String(err);
  return new FileFormatError(`cannot decode image (${message.split('\n')[0]})`, label, { cause: err });
}

async function runSharp(
  pipeline: sharp.Sharp,
  size: ImageSize | undefined,
  policy: ResizePolicy,
  label: string | undefined,
): Promise<DecodedRaw> {
  let padTo: ImageSize | undefined;
  if (size) {
    if (policy === 'resize') pipeline = pipeline.resize(size.width, size.height, { fit: 'fill' });
    else if (policy === 'center-crop') pipeline = pipeline.resize(size.width, size.height, { fit: 'cover', position: 'centre' });
    else if (policy === 'pad') {
      // sharp's 'contain' fills with a background colour interpreted in the
      // pixel format; padding here in JS keeps `padValue` exact.
      pipeline = pipeline.resize(size.width, size.height, { fit: 'inside' });
      padTo = size;
    }
  }
  let out: { data: Buffer; info: sharp.OutputInfo };
  try {
    out = await pipeline.raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw wrapDecodeError(err, label);
  }
  const raw: DecodedRaw = {
    data: new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length),
    width: out.info.width,
    height: out.info.height,
    channels: out.info.channels,
  };
  if (padTo) raw.padTo = padTo;
  return raw;
}

function floatToUint8(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    // NaN maps to 0; values are clamped to [0, 1].
    out[i] = v > 0 ? (v < 1 ? Math.round(v * 255) : 255) : 0;
  }
  return out;
}

/**
 * Applies the alpha and channel policies (and the 'pad' letterbox) to decoded
 * pixels, writing normalised values through `store` into an array of the
 * requested kind.
 */
function finish<T extends Float32Array | Uint8Array>(
  raw: DecodedRaw,
  options: ImageLoadOptions,
  make: (n: number) => T,
  fromUnit: (v: number) => number,
): { data: T; width: number; height: number; channels: 1 | 3 } {
  const outChannels = options.channels ?? 3;
  if (outChannels !== 1 && outChannels !== 3) throw new InvalidArgumentError(`channels must be 1 or 3, got ${String(outChannels)}`);
  const alpha: AlphaPolicy = options.alpha ?? 'flatten-white';
  if (alpha !== 'flatten-white' && alpha !== 'drop') throw new InvalidArgumentError(`alpha must be 'flatten-white' or 'drop', got '${String(alpha)}'`);
  const padValue = options.padValue ?? 0;
  if (!(padValue >= 0 && padValue <= 1)) throw new InvalidArgumentError(`padValue must be in [0, 1], got ${padValue}`);

  const { width, height, channels: inC, data } = raw;
  const scale = data instanceof Float32Array ? 1 : 1 / 255;
  const hasAlpha = inC === 2 || inC === 4;
  const colour = inC >= 3;
  const pad = raw.padTo;
  const outW = pad ? pad.width : width;
  const outH = pad ? pad.height : height;
  const offX = pad ? Math.floor((outW - width) / 2) : 0;
  const offY = pad ? Math.floor((outH - height) / 2) : 0;
  const out = make(outW * outH * outChannels);
  if (pad) out.fill(fromUnit(padValue));

  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const src = (y * width + x) * inC;
      let r: number;
      let g: number;
      let b: number;
      if (colour) {
        r = data[src]! * scale;
        g = data[src + 1]! * scale;
        b = data[src + 2]! * scale;
      } else {
        r = g = b = data[src]! * scale;
      }
      if (hasAlpha && alpha === 'flatten-white') {
        const a = data[src + inC - 1]! * scale;
        r = r * a + (1 - a);
        g = g * a + (1 - a);
        b = b * a + (1 - a);
      }
      const dst = ((y + offY) * outW + (x + offX)) * outChannels;
      if (outChannels === 3) {
        out[dst] = fromUnit(r);
        out[dst + 1] = fromUnit(g);
        out[dst + 2] = fromUnit(b);
      } else {
        out[dst] = fromUnit(colour ? LUMA_R * r + LUMA_G * g + LUMA_B * b : r);
      }
    }
  }
  return { data: out, width: outW, height: outH, channels: outChannels };
}

const toUnitFloat = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);
const toByte = (v: number): number => Math.round((v < 0 ? 0 : v > 1 ? 1 : v) * 255);

/**
 * Loads an image as normalised float pixels in [0, 1], HWC, with 1 or 3
 * channels. Throws FileFormatError (with the path) for missing, unreadable
 * or corrupt files, InvalidArgumentError for bad options.
 */
export async function loadImage(input: ImageInput, options: ImageLoadOptions = {}): Promise<ImageF32> {
  const raw = await decodeRaw(input, options);
  return finish(raw, options, (n) => new Float32Array(n), toUnitFloat);
}

/** Like {@link loadImage} but returns 8-bit pixels (4× less memory; what datasets cache). */
export async function loadImageU8(input: ImageInput, options: ImageLoadOptions = {}): Promise<ImageU8> {
  const raw = await decodeRaw(input, options);
  return finish(raw, options, (n) => new Uint8Array(n), toByte);
}

/**
 * The size `loadImage(input, options)` would return, read from the file
 * header only (no pixel decoding). Throws like `loadImage` for unreadable
 * headers and for a size mismatch under policy 'none'; corrupt pixel data
 * is only detected by a full decode.
 */
export async function probeImageSize(input: ImageInput, options: ImageLoadOptions = {}): Promise<ImageSize> {
  const size = resolveSize(options.size);
  const policy = resolvePolicy(options.resize, size);
  const label = describeInput(input);
  let width: number;
  let height: number;
  if (isRawImage(input)) {
    validateRawImage(input);
    ({ width, height } = input);
  } else {
    const pipeline = typeof input === 'string' || input instanceof Uint8Array ? sharp(input, { failOn: 'warning' }) : input.clone();
    let meta: sharp.Metadata;
    try {
      meta = await pipeline.metadata();
    } catch (err) {
      throw wrapDecodeError(err, label);
    }
    if (meta.width === undefined || meta.height === undefined) throw new FileFormatError('image header has no dimensions', label);
    const swap = (meta.orientation ?? 1) >= 5 && (options.autoOrient ?? true);
    width = swap ? meta.height : meta.width;
    height = swap ? meta.width : meta.height;
  }
  if (size && policy !== 'none') return { width: size.width, height: size.height };
  const probed = { data: new Uint8Array(0), width, height, channels: 1 };
  checkNoneSize(probed, size, policy, label);
  return { width, height };
}

/** 8-bit pixels → float in [0, 1] (same layout). */
export function toFloatImage(image: RawImage): Float32Array {
  if (image.data instanceof Float32Array) return image.data;
  const out = new Float32Array(image.data.length);
  for (let i = 0; i < out.length; i++) out[i] = image.data[i]! / 255;
  return out;
}

/** Float pixels in [0, 1] (clamped) → 8-bit, rounding to nearest. */
export function toUint8Image(image: RawImage): Uint8Array {
  if (image.data instanceof Uint8Array) return image.data;
  if (image.data instanceof Uint8ClampedArray) return new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.length);
  return floatToUint8(image.data);
}

/** The format implied by a file extension (.png, .jpg/.jpeg, .webp). */
export function imageFormatFromPath(filePath: string): ImageFormat {
  const ext = path.extname(filePath).toLowerCase();
  if (ext === '.png') return 'png';
  if (ext === '.jpg' || ext === '.jpeg') return 'jpeg';
  if (ext === '.webp') return 'webp';
  throw new InvalidArgumentError(`cannot infer an image format from '${filePath}': use .png, .jpg/.jpeg or .webp`);
}

/** Encodes raw pixels (Float32 in [0, 1] is clamped and rounded) to PNG/JPEG/WebP bytes. */
export async function encodeImage(image: RawImage, format: ImageFormat, options: ImageEncodeOptions = {}): Promise<Buffer> {
  validateRawImage(image);
  const quality = options.quality ?? 90;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new InvalidArgumentError(`quality must be an integer in 1..100, got ${quality}`);
  const pixels = toUint8Image(image);
  const pipeline = sharp(pixels, { raw: { width: image.width, height: image.height, channels: image.channels as 1 | 2 | 3 | 4 } });
  switch (format) {
    case 'png':
      return pipeline.png().toBuffer();
    case 'jpeg':
      return pipeline.jpeg({ quality }).toBuffer();
    case 'webp':
      return pipeline.webp({ quality, lossless: options.lossless ?? false }).toBuffer();
    default:
      throw new InvalidArgumentError(`unknown image format '${String(format)}'`);
  }
}

/** Saves raw pixels to `filePath`, format chosen by extension; written atomically. */
export async function saveImage(filePath: string, image: RawImage, options: ImageEncodeOptions = {}): Promise<void> {
  const bytes = await encodeImage(image, imageFormatFromPath(filePath), options);
  await writeFileAtomicAsync(filePath, bytes);
}

/** Raw pixels → float32 tensor [height, width, channels] in [0, 1]. */
export function imageToTensor(image: RawImage): tf.Tensor3D {
  validateRawImage(image);
  return tf.tensor3d(toFloatImage(image), [image.height, image.width, image.channels], 'float32');
}

/** A [H, W, C] or [1, H, W, C] tensor (values clamped to [0, 1]) → float pixels. Does not dispose the tensor. */
export async function tensorToImage(tensor: tf.Tensor): Promise<ImageF32> {
  const shape = tensor.shape;
  const hwc = shape.length === 4 && shape[0] === 1 ? shape.slice(1) : shape;
  if (hwc.length !== 3 || (hwc[2] !== 1 && hwc[2] !== 3)) {
    throw new InvalidArgumentError(`expected a [H, W, 1|3] or [1, H, W, 1|3] tensor, got [${shape}]`);
  }
  const values = (await tensor.data()) as Float32Array;
  const data = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = toUnitFloat(values[i]!);
  return { data, height: hwc[0]!, width: hwc[1]!, channels: hwc[2] as 1 | 3 };
}
