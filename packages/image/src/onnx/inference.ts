/**
 * Batched encode/decode of many images through ImageOnnxRuntime, with the
 * same grouping as ImageTokenizer's TF.js path (same-size images share a
 * session run) and the same padding/cropping conventions.
 */
import type { ImageF32 } from '../io.js';
import type { ImageOnnxRuntime } from './runtime.js';

/** One image's codes (mirrors ImageTokenizer's EncodedImage). */
export interface OnnxEncoded {
  codes: Int32Array;
  shape: number[];
  height: number;
  width: number;
}

/** Pads NHWC pixels to multiples of f the way the TF.js model does (ImageVQVAE.padToMultiple). */
export type PadToMultiple = (pixels: Float32Array, shape: [number, number, number, number]) => { pixels: Float32Array; shape: [number, number, number, number] };

/** Images per session run: large enough to amortise the call, small enough to bound memory. */
const ONNX_CHUNK = 256;

function groupBy<T>(items: readonly T[], key: (item: T) => string): number[][] {
  const groups = new Map<string, number[]>();
  items.forEach((item, i) => {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(i);
    else groups.set(k, [i]);
  });
  return [...groups.values()];
}

export async function encodeImagesOnnx(runtime: ImageOnnxRuntime, images: readonly ImageF32[], pad: PadToMultiple): Promise<OnnxEncoded[]> {
  const out: OnnxEncoded[] = new Array(images.length);
  const f = runtime.manifest.downsampling;
  for (const indices of groupBy(images, (img) => `${img.height}x${img.width}`)) {
    for (let start = 0; start < indices.length; start += ONNX_CHUNK) {
      const chunk = indices.slice(start, start + ONNX_CHUNK);
      const { height, width, channels } = images[chunk[0]!]!;
      const per = height * width * channels;
      let pixels: Float32Array = new Float32Array(chunk.length * per);
      chunk.forEach((idx, j) => pixels.set(images[idx]!.data, j * per));
      let shape: [number, number, number, number] = [chunk.length, height, width, channels];
      if (height % f !== 0 || width % f !== 0) ({ pixels, shape } = pad(pixels, shape));
      const result = await runtime.encode(pixels, shape);
      const grid = result.shape.slice(1);
      const count = grid.reduce((a, b) => a * b, 1);
      chunk.forEach((idx, j) => {
        out[idx] = { codes: result.codes.slice(j * count, (j + 1) * count), shape: [...grid], height, width };
      });
    }
  }
  return out;
}

/** Decodes code grids (validated by the caller) and crops each image to its recorded size. */
export async function decodeCodesOnnx(runtime: ImageOnnxRuntime, items: readonly OnnxEncoded[]): Promise<ImageF32[]> {
  const out: ImageF32[] = new Array(items.length);
  const channels = runtime.manifest.channels;
  for (const indices of groupBy(items, (item) => item.shape.join('x'))) {
    for (let start = 0; start < indices.length; start += ONNX_CHUNK) {
      const chunk = indices.slice(start, start + ONNX_CHUNK);
      const grid = items[chunk[0]!]!.shape;
      const count = grid.reduce((a, b) => a * b, 1);
      const codes = new Int32Array(chunk.length * count);
      chunk.forEach((idx, j) => codes.set(items[idx]!.codes, j * count));
      const { pixels, shape } = await runtime.decode(codes, [chunk.length, ...grid]);
      const [, H, W] = shape as [number, number, number, number];
      chunk.forEach((idx, j) => {
        const { height, width } = items[idx]!;
        const image = new Float32Array(height * width * channels);
        const base = j * H * W * channels;
        if (height === H && width === W) image.set(pixels.subarray(base, base + H * W * channels));
        else for (let y = 0; y < height; y++) image.set(pixels.subarray(base + y * W * channels, base + (y * W + width) * channels), y * width * channels);
        out[idx] = { data: image, height, width, channels };
      });
    }
  }
  return out;
}
