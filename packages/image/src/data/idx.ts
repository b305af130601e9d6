/**
 * IDX files (the MNIST / Fashion-MNIST format), optionally gzip-compressed.
 *
 * Layout: 2 zero bytes, a dtype byte, a rank byte, `rank` big-endian uint32
 * dimensions, then the values in row-major order, big-endian. Every header
 * field and the payload length are validated, so a truncated download or a
 * wrong file fails with a FileFormatError naming the file instead of yielding
 * garbage pixels.
 */
import * as fsp from 'node:fs/promises';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { FileFormatError, InvalidArgumentError } from '@vqkit/core';

const gunzip = promisify(zlib.gunzip);

/** IDX element types. */
export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

const DTYPE_CODES: Record<number, { dtype: IdxDtype; bytes: number }> = {
  0x08: { dtype: 'uint8', bytes: 1 },
  0x09: { dtype: 'int8', bytes: 1 },
  0x0b: { dtype: 'int16', bytes: 2 },
  0x0c: { dtype: 'int32', bytes: 4 },
  0x0d: { dtype: 'float32', bytes: 4 },
  0x0e: { dtype: 'float64', bytes: 8 },
};

type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A decoded IDX array. */
export interface IdxArray {
  dtype: IdxDtype;
  /** Dimensions, outermost first (e.g. [60000, 28, 28]). */
  shape: number[];
  /** Values in row-major order, native endianness. */
  data: IdxData;
}

/** IDX image stack: N grayscale images, HW layout per image. */
export interface IdxImages {
  count: number;
  height: number;
  width: number;
  /** count × height × width bytes, 0..255. */
  data: Uint8Array;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** True if the bytes start with the gzip magic number. */
function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1;
}

/**
 * Parses an uncompressed IDX buffer. `source` names the file in errors.
 * Throws FileFormatError on a bad magic number, unknown dtype, or a payload
 * that is shorter (truncated) or longer (trailing bytes) than the header says.
 */
export function parseIdx(bytes: Uint8Array, source?: string): IdxArray {
  if (bytes.length < 4) throw new FileFormatError(`not an IDX file: ${bytes.length} bytes is shorter than the 4-byte magic number`, source);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new FileFormatError(
      `not an IDX file: magic number starts with 0x${hex(bytes[0]!)}${hex(bytes[1]!)}, expected 0x0000`,
      source,
    );
  }
  const type = DTYPE_CODES[bytes[2]!];
  if (!type) throw new FileFormatError(`unknown IDX element type 0x${hex(bytes[2]!)}`, source);
  const rank = bytes[3]!;
  if (rank < 1) throw new FileFormatError('IDX rank is 0', source);
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new FileFormatError(`truncated IDX header: ${bytes.length} bytes, rank ${rank} needs ${headerBytes}`, source);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const dim = view.getUint32(4 + 4 * i, false);
    shape.push(dim);
    count *= dim;
  }
  const expected = headerBytes + count * type.bytes;
  if (!Number.isSafeInteger(expected)) throw new FileFormatError(`IDX dimensions [${shape}] are implausibly large`, source);
  if (bytes.length < expected) {
    throw new FileFormatError(
      `truncated IDX file: shape [${shape}] of ${type.dtype} needs ${expected} bytes, file has ${bytes.length}`,
      source,
    );
  }
  if (bytes.length > expected) {
    throw new FileFormatError(
      `IDX file has ${bytes.length - expected} unexpected trailing bytes after shape [${shape}] of ${type.dtype}`,
      source,
    );
  }
  return { dtype: type.dtype, shape, data: readValues(view, headerBytes, count, type.dtype) };
}

function readValues(view: DataView, offset: number, count: number, dtype: IdxDtype): IdxData {
  switch (dtype) {
    case 'uint8':
      // Copy so the result does not pin a possibly much larger buffer.
      return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int8':
      return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

/** Reads an IDX file; gzip compression (`.gz`) is detected from the content, not the name. */
export async function readIdx(filePath: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await fsp.readFile(filePath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileFormatError(code === 'ENOENT' ? 'file not found' : `cannot read file (${String(code ?? err)})`, filePath, { cause: err });
  }
  if (isGzip(bytes)) {
    try {
      bytes = await gunzip(bytes);
    } catch (err) {
      throw new FileFormatError(`corrupt gzip stream (${(err as Error).message})`, filePath, { cause: err });
    }
  }
  return parseIdx(bytes, filePath);
}

/** Reads an N×H×W uint8 IDX image file (e.g. `train-images-idx3-ubyte.gz`). */
export async function readIdxImages(filePath: string): Promise<IdxImages> {
  const array = await readIdx(filePath);
  if (array.dtype !== 'uint8' || array.shape.length !== 3) {
    throw new FileFormatError(`expected uint8 images of shape [N, H, W], got ${array.dtype} [${array.shape}]`, filePath);
  }
  const [count, height, width] = array.shape as [number, number, number];
  return { count, height, width, data: array.data as Uint8Array };
}

/** Reads an N-element uint8 IDX label file (e.g. `train-labels-idx1-ubyte.gz`). */
export async function readIdxLabels(filePath: string): Promise<Uint8Array> {
  const array = await readIdx(filePath);
  if (array.dtype !== 'uint8' || array.shape.length !== 1) {
    throw new FileFormatError(`expected uint8 labels of shape [N], got ${array.dtype} [${array.shape}]`, filePath);
  }
  return array.data as Uint8Array;
}

/** Encodes an array as IDX bytes (uncompressed; gzip with node:zlib if wanted). */
export function encodeIdx(array: IdxArray): Uint8Array {
  const code = Object.entries(DTYPE_CODES).find(([, t]) => t.dtype === array.dtype);
  if (!code) throw new InvalidArgumentError(`unknown IDX dtype '${array.dtype}'`);
  const { bytes } = code[1];
  const rank = array.shape.length;
  if (rank < 1 || rank > 255) throw new InvalidArgumentError(`IDX rank must be 1..255, got ${rank}`);
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (array.data.length !== count) {
    throw new InvalidArgumentError(`IDX data has ${array.data.length} values but shape [${array.shape}] needs ${count}`);
  }
  const header = 4 + 4 * rank;
  const out = new Uint8Array(header + count * bytes);
  const view = new DataView(out.buffer);
  out[2] = Number(code[0]);
  out[3] = rank;
  array.shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const data = array.data;
  for (let i = 0; i < count; i++) {
    const o = header + i * bytes;
    const v = data[i]!;
    switch (array.dtype) {
      case 'uint8':
        view.setUint8(o, v);
        break;
      case 'int8':
        view.setInt8(o, v);
        break;
      case 'int16':
        view.setInt16(o, v, false);
        break;
      case 'int32':
        view.setInt32(o, v, false);
        break;
      case 'float32':
        view.setFloat32(o, v, false);
        break;
      case 'float64':
        view.setFloat64(o, v, false);
        break;
    }
  }
  return out;
}
