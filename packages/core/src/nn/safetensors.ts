/**
 * The safetensors weight-file format (https://github.com/huggingface/safetensors):
 *
 *   [u64 little-endian N][N bytes of JSON header][raw little-endian tensor data]
 *
 * The header maps each tensor name to `{ dtype, shape, data_offsets: [begin, end] }`
 * (offsets relative to the start of the data section) plus an optional
 * `__metadata__` object of string → string. Like the reference writer we pad
 * the header with spaces to a multiple of 8 bytes so tensor data is aligned,
 * and the reader enforces the reference rules (offsets in bounds, contiguous,
 * no holes, sizes matching dtype × shape) so a file is accepted here only if
 * Python's `safetensors.numpy.load_file` would accept it too.
 *
 * Supported dtypes: F32 and I32 (what vqkit models hold).
 */
import { FileFormatError, InvalidArgumentError } from '../errors.js';

export type SafetensorsDtype = 'F32' | 'I32';

/** One tensor: dtype, shape and its values in row-major order. */
export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  /** The `__metadata__` entries (empty when absent). */
  metadata: Record<string, string>;
}

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4, I32: 4 };
/** Upper bound on the JSON header (the reference implementation's limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function dtypeOf(data: Float32Array | Int32Array): SafetensorsDtype {
  return data instanceof Float32Array ? 'F32' : 'I32';
}

/**
 * Serialises tensors (written in the given iteration order) and optional
 * metadata. Returns the header chunk followed by one chunk per tensor so
 * callers can stream them to disk without one big concatenation.
 */
export function encodeSafetensorsChunks(
  tensors: Iterable<[string, SafetensorsTensor]>,
  metadata?: Record<string, string>,
): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new InvalidArgumentError(`safetensors metadata '${k}' must be a string`);
    }
    header[METADATA_KEY] = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of tensors) {
    if (name === METADATA_KEY || name in header) throw new InvalidArgumentError(`duplicate or reserved tensor name '${name}'`);
    if (tensor.dtype !== dtypeOf(tensor.data)) {
      throw new InvalidArgumentError(`tensor '${name}': dtype ${tensor.dtype} does not match its ${tensor.data.constructor.name} data`);
    }
    if (!tensor.shape.every((d) => Number.isInteger(d) && d >= 0) || elementCount(tensor.shape) !== tensor.data.length) {
      throw new InvalidArgumentError(`tensor '${name}': shape [${tensor.shape}] does not match ${tensor.data.length} values`);
    }
    const nbytes = tensor.data.length * BYTES_PER_ELEMENT[tensor.dtype];
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
    // Typed arrays are little-endian on every platform Node supports, which is what the format requires.
    chunks.push(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, nbytes));
  }
  let json = JSON.stringify(header);
  const unpadded = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (unpadded % 8)) % 8);
  const jsonBytes = Buffer.from(json, 'utf8');
  const prefix = new Uint8Array(8 + jsonBytes.length);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(jsonBytes.length), true);
  prefix.set(jsonBytes, 8);
  return [prefix, ...chunks];
}

/** Serialises tensors and metadata into one buffer. */
export function encodeSafetensors(tensors: Iterable<[string, SafetensorsTensor]>, metadata?: Record<string, string>): Uint8Array {
  const chunks = encodeSafetensorsChunks(tensors, metadata);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses a safetensors file. `source` (a path) is named in errors. Throws
 * `FileFormatError` for anything malformed or for dtypes vqkit does not use.
 */
export function decodeSafetensors(bytes: Uint8Array, source?: string): SafetensorsFile {
  const fail = (message: string): never => {
    throw new FileFormatError(`not a valid safetensors file: ${message}`, source);
  };
  if (bytes.length < 8) fail(`only ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    fail(`header length ${headerLength} exceeds the file size (${bytes.length} bytes); the file is truncated or not safetensors`);
  }
  const n = Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString('utf8'));
  } catch (err) {
    fail(`header is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isRecord(header)) return fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const raw = header[METADATA_KEY];
  if (raw !== undefined) {
    if (!isRecord(raw)) fail('__metadata__ is not an object');
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
      metadata[k] = v as string;
    }
  }
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA_KEY) continue;
    if (!isRecord(info)) fail(`entry '${name}' is not an object`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (dtype !== 'F32' && dtype !== 'I32') fail(`tensor '${name}' has dtype ${String(dtype)}; only F32 and I32 are supported`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor '${name}' has an invalid shape`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
      fail(`tensor '${name}' has invalid data_offsets`);
    }
    const [begin, end] = offsets as [number, number];
    const expected = elementCount(shape as number[]) * BYTES_PER_ELEMENT[dtype as SafetensorsDtype];
    if (end < begin || end - begin !== expected) {
      fail(`tensor '${name}': data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${String(dtype)}[${String(shape)}] needs ${expected}`);
    }
    entries.push({ name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end });
  }
  // Reference rule: the tensors tile the data section exactly, in offset order.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expectedBegin = 0;
  for (const e of entries) {
    if (e.begin !== expectedBegin) fail(`tensor '${e.name}' starts at ${e.begin}, expected ${expectedBegin} (overlap or hole in the data section)`);
    expectedBegin = e.end;
  }
  if (expectedBegin !== dataLength) {
    fail(`tensors cover ${expectedBegin} bytes but the data section has ${dataLength}; the file is truncated or has trailing bytes`);
  }
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    // Copy out: the source buffer may be unaligned for a typed-array view, and callers may keep tensors after dropping it.
    // (`new Uint8Array(view)` copies; Buffer#slice would not.)
    const slice = new Uint8Array(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    const data = e.dtype === 'F32' ? new Float32Array(slice.buffer) : new Int32Array(slice.buffer);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}
