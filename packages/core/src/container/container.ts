/**
 * Writing and reading the token container (layout in `format.ts`). Modeled
 * on EnCodec's `binary.py` (header) + `compress.py` (public API), with the
 * robustness rules of a format that reads untrusted bytes: every failure is a
 * typed `ContainerError`, every declared size is bounded before it is used to
 * allocate, and decoding work is bounded by the declared (and limited) sizes.
 */
import { decodeCodeTensor, encodeCodeTensor } from '../entropy/code-stream.js';
import { fixedLengthStreamBits, packFixedLength, unpackFixedLength } from '../entropy/fixed-length.js';
import { MAX_ALPHABET_SIZE, type ProbabilityModel } from '../entropy/model.js';
import {
  adaptiveSpec,
  createLevelModels,
  ENTROPY_MODEL_KIND_IDS,
  fixedLengthSpec,
  MODEL_FINGERPRINT_BYTES,
  toHex,
  uniformSpec,
  type EntropyModelKind,
  type EntropyModelSpec,
} from '../entropy/spec.js';
import {
  ContainerChecksumError,
  ContainerCorruptError,
  ContainerLimitError,
  ContainerMagicError,
  ContainerTruncatedError,
  ContainerVersionError,
  EntropyDecodeError,
  EntropyModelMismatchError,
  InvalidArgumentError,
  TokenizerMismatchError,
  VqkitError,
} from '../errors.js';
import { ByteReader, ByteWriter, MAX_VARINT } from './bytes.js';
import { crc32 } from './crc32.js';
import {
  CHECKSUM_BYTES,
  CONTAINER_MAGIC,
  CONTAINER_VERSION,
  DEFAULT_CONTAINER_LIMITS,
  FIXED_HEADER_BYTES,
  FLAG_CARRY_MODEL_STATE,
  FLAG_FINGERPRINT,
  FLAG_METADATA,
  MAX_SEGMENT_RANK,
  MODALITY_IDS,
  type CodeSegment,
  type ContainerHeader,
  type ContainerHeaderInit,
  type ContainerLimits,
  type DecodedSegment,
  type Modality,
  type SegmentInfo,
} from './format.js';
import { TOKENIZER_ID_BYTES, tokenizerIdToBytes } from './tokenizer-id.js';

export interface WriteContainerOptions {
  /** Entropy model coding the payloads. Default `adaptiveSpec` (parameter-free). */
  model?: EntropyModelSpec;
  /** Limits the written container must respect (so readers with the same limits accept it). Default `DEFAULT_CONTAINER_LIMITS`. */
  limits?: ContainerLimits;
}

export interface ReadContainerOptions {
  /** Fail with `TokenizerMismatchError` unless the container was written by this tokenizer. Default: no check. */
  expectedTokenizerId?: string;
  /**
   * Entropy model for learned kinds (`static`, `neighbour`, `external`); must
   * match the container's kind and fingerprint. Parameter-free kinds need none.
   */
  model?: EntropyModelSpec;
  /** Bounds on declared sizes. Default `DEFAULT_CONTAINER_LIMITS`. */
  limits?: ContainerLimits;
  /** Verify the CRC-32 before parsing. Default true (disable only to inspect damaged files). */
  verifyChecksum?: boolean;
}

const MODALITIES = Object.keys(MODALITY_IDS) as Modality[];
const KINDS = Object.keys(ENTROPY_MODEL_KIND_IDS) as EntropyModelKind[];
const LEARNED_KINDS: ReadonlySet<EntropyModelKind> = new Set(['static', 'neighbour', 'external']);

function resolveLimits(limits: ContainerLimits | undefined): Required<ContainerLimits> {
  const merged = { ...DEFAULT_CONTAINER_LIMITS };
  for (const key of Object.keys(merged) as (keyof ContainerLimits)[]) {
    const value = limits?.[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 0) throw new InvalidArgumentError(`container limit ${key} must be a non-negative integer, got ${value}`);
    merged[key] = value;
  }
  merged.maxCodebookSize = Math.min(merged.maxCodebookSize, MAX_ALPHABET_SIZE);
  return merged;
}

function builtinSpec(kind: EntropyModelKind): EntropyModelSpec | undefined {
  if (kind === 'fixed-length') return fixedLengthSpec;
  if (kind === 'uniform') return uniformSpec;
  if (kind === 'adaptive') return adaptiveSpec;
  return undefined;
}

/** Product of dims, or Infinity as soon as it passes `cap` (keeps the arithmetic exact). */
function boundedProduct(dims: readonly number[], cap: number): number {
  let size = 1;
  for (const d of dims) {
    size *= d;
    if (size > cap) return Number.POSITIVE_INFINITY;
  }
  return size;
}

/** Writes segments into a container. Throws `InvalidArgumentError` / `ContainerLimitError` on bad input. */
export function writeContainer(header: ContainerHeaderInit, segments: readonly CodeSegment[], options: WriteContainerOptions = {}): Uint8Array {
  const limits = resolveLimits(options.limits);
  const spec = options.model ?? adaptiveSpec;
  const modality = header.modality ?? 'generic';
  if (!(modality in MODALITY_IDS)) throw new InvalidArgumentError(`unknown modality ${JSON.stringify(modality)}; expected one of ${MODALITIES.join(', ')}`);
  if (!(spec.kind in ENTROPY_MODEL_KIND_IDS)) throw new InvalidArgumentError(`unknown entropy model kind ${JSON.stringify(spec.kind)}`);
  const fingerprint = spec.fingerprint;
  if (fingerprint !== undefined && fingerprint.length !== MODEL_FINGERPRINT_BYTES) {
    throw new InvalidArgumentError(`model fingerprint must be ${MODEL_FINGERPRINT_BYTES} bytes, got ${fingerprint.length}`);
  }
  if (fingerprint !== undefined && !LEARNED_KINDS.has(spec.kind)) throw new InvalidArgumentError(`a '${spec.kind}' entropy model has no parameters and must not carry a fingerprint`);
  const tokenizerId = tokenizerIdToBytes(header.tokenizerId);
  const sizes = header.codebookSizes;
  if (sizes.length < 1 || sizes.length > limits.maxLevels) throw new ContainerLimitError(`level count ${sizes.length} outside [1, ${limits.maxLevels}]`);
  for (const k of sizes) {
    if (!Number.isInteger(k) || k < 1 || k > limits.maxCodebookSize) throw new ContainerLimitError(`codebook size ${k} outside [1, ${limits.maxCodebookSize}]`);
  }
  if (segments.length > limits.maxSegments) throw new ContainerLimitError(`${segments.length} segments exceed the limit of ${limits.maxSegments}`);
  if (header.metadata !== undefined && header.metadata.length > limits.maxMetadataBytes) {
    throw new ContainerLimitError(`metadata of ${header.metadata.length} bytes exceeds the limit of ${limits.maxMetadataBytes}`);
  }

  const levels = sizes.length;
  let totalSymbols = 0;
  for (const [index, seg] of segments.entries()) {
    const tag = seg.tag ?? 0;
    if (!Number.isInteger(tag) || tag < 0 || tag > Math.floor(MAX_VARINT / 8)) throw new InvalidArgumentError(`segment ${index}: tag ${tag} must be an integer in [0, ${Math.floor(MAX_VARINT / 8)}]`);
    const rank = seg.shape.length - 1;
    if (rank < 0 || rank > MAX_SEGMENT_RANK || seg.shape[rank] !== levels) {
      throw new InvalidArgumentError(`segment ${index}: shape [${seg.shape.join(', ')}] must be [..., ${levels}] with at most ${MAX_SEGMENT_RANK} dims before the levels axis`);
    }
    for (const d of seg.shape) if (!Number.isInteger(d) || d < 0 || d > MAX_VARINT) throw new InvalidArgumentError(`segment ${index}: invalid dimension ${d}`);
    const size = boundedProduct(seg.shape, limits.maxSymbolsPerSegment);
    if (size > limits.maxSymbolsPerSegment) throw new ContainerLimitError(`segment ${index}: more than ${limits.maxSymbolsPerSegment} codes`);
    if (seg.codes.length !== size) throw new InvalidArgumentError(`segment ${index}: ${seg.codes.length} codes for shape [${seg.shape.join(', ')}] (${size})`);
    totalSymbols += size;
    if (totalSymbols > limits.maxTotalSymbols) throw new ContainerLimitError(`more than ${limits.maxTotalSymbols} codes in total`);
    for (let i = 0; i < size; i++) {
      const c = seg.codes[i];
      const k = sizes[i % levels];
      if (!Number.isInteger(c) || c < 0 || c >= k) throw new InvalidArgumentError(`segment ${index}: code ${c} at index ${i} outside [0, ${k}) of level ${i % levels}`);
    }
  }

  // Payloads first: their lengths go into the header.
  const payloads = encodePayloads(segments, sizes, spec, header.carryModelState ?? false);

  const w = new ByteWriter(FIXED_HEADER_BYTES + 32 + payloads.reduce((n, p) => n + p.length, 0));
  w.bytes(CONTAINER_MAGIC);
  w.byte(CONTAINER_VERSION);
  w.byte(
    MODALITY_IDS[modality] |
      (ENTROPY_MODEL_KIND_IDS[spec.kind] << 2) |
      (fingerprint !== undefined ? FLAG_FINGERPRINT : 0) |
      (header.metadata !== undefined ? FLAG_METADATA : 0) |
      (header.carryModelState ? FLAG_CARRY_MODEL_STATE : 0),
  );
  w.bytes(tokenizerId);
  if (fingerprint !== undefined) w.bytes(fingerprint);
  w.varint(levels);
  for (const k of sizes) w.varint(k);
  if (header.metadata !== undefined) {
    w.varint(header.metadata.length);
    w.bytes(header.metadata);
  }
  w.varint(segments.length);
  for (const seg of segments) {
    const rank = seg.shape.length - 1;
    w.varint((seg.tag ?? 0) * 8 + rank);
    for (let d = 0; d < rank; d++) w.varint(seg.shape[d]);
  }
  for (let i = 0; i + 1 < payloads.length; i++) w.varint(payloads[i].length);
  for (const p of payloads) w.bytes(p);
  w.uint32(crc32(w.finish()));
  return w.finish();
}

function encodePayloads(segments: readonly CodeSegment[], sizes: readonly number[], spec: EntropyModelSpec, carry: boolean): Uint8Array[] {
  if (spec.kind === 'fixed-length') return segments.map((seg) => packFixedLength(seg.codes, sizes));
  let models = createLevelModels(spec, sizes);
  return segments.map((seg, index) => {
    if (index > 0 && !carry) models = createLevelModels(spec, sizes);
    return encodeCodeTensor(seg.codes, seg.shape, models);
  });
}

/** Checks size, magic, version and (optionally) the CRC. */
function checkEnvelope(bytes: Uint8Array, verifyChecksum: boolean): void {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('container must be a Uint8Array');
  if (bytes.length >= 2 && (bytes[0] !== CONTAINER_MAGIC[0] || bytes[1] !== CONTAINER_MAGIC[1])) {
    throw new ContainerMagicError('not a vqkit token container (bad magic bytes)');
  }
  if (bytes.length < FIXED_HEADER_BYTES + CHECKSUM_BYTES) {
    throw new ContainerTruncatedError(`truncated: ${bytes.length} bytes is shorter than the smallest container (${FIXED_HEADER_BYTES + CHECKSUM_BYTES})`);
  }
  if (bytes[2] !== CONTAINER_VERSION) {
    throw new ContainerVersionError(`container format version ${bytes[2]} is not supported (this build reads version ${CONTAINER_VERSION})`);
  }
  if (verifyChecksum) {
    const end = bytes.length - CHECKSUM_BYTES;
    const stored = ((bytes[end] << 24) | (bytes[end + 1] << 16) | (bytes[end + 2] << 8) | bytes[end + 3]) >>> 0;
    const actual = crc32(bytes, 0, end);
    if (stored !== actual) {
      throw new ContainerChecksumError(`checksum mismatch (stored ${stored.toString(16).padStart(8, '0')}, computed ${actual.toString(16).padStart(8, '0')}): the container is corrupt or truncated`);
    }
  }
}

function parseHeader(bytes: Uint8Array, limits: Required<ContainerLimits>): ContainerHeader {
  const r = new ByteReader(bytes, 0, bytes.length - CHECKSUM_BYTES);
  r.pos = 3;
  const flags = r.byte('flags');
  const modality = MODALITIES[flags & 3];
  const kind = KINDS[(flags >> 2) & 7];
  if (kind === undefined) throw new ContainerCorruptError(`corrupt: unknown entropy model kind id ${(flags >> 2) & 7}`);
  const tokenizerId = toHex(r.bytes(TOKENIZER_ID_BYTES, 'tokenizer id'));
  const fingerprint = flags & FLAG_FINGERPRINT ? toHex(r.bytes(MODEL_FINGERPRINT_BYTES, 'model fingerprint')) : undefined;
  if (!LEARNED_KINDS.has(kind) && fingerprint !== undefined) throw new ContainerCorruptError(`corrupt: a ${kind} model has no fingerprint`);

  const levels = r.varint('level count');
  if (levels < 1 || levels > limits.maxLevels) throw new ContainerLimitError(`declared level count ${levels} outside [1, ${limits.maxLevels}]`);
  // Each codebook size takes ≥ 1 byte: bounded by the bytes actually present.
  if (levels > r.remaining) throw new ContainerTruncatedError(`truncated: ${levels} codebook sizes declared, ${r.remaining} bytes left`);
  const codebookSizes: number[] = [];
  for (let l = 0; l < levels; l++) {
    const k = r.varint('codebook size');
    if (k < 1 || k > limits.maxCodebookSize) throw new ContainerLimitError(`declared codebook size ${k} outside [1, ${limits.maxCodebookSize}]`);
    codebookSizes.push(k);
  }

  let metadata: Uint8Array | undefined;
  if (flags & FLAG_METADATA) {
    const n = r.varint('metadata length');
    if (n > limits.maxMetadataBytes) throw new ContainerLimitError(`declared metadata of ${n} bytes exceeds the limit of ${limits.maxMetadataBytes}`);
    metadata = r.bytes(n, 'metadata').slice();
  }

  const segmentCount = r.varint('segment count');
  if (segmentCount > limits.maxSegments) throw new ContainerLimitError(`declared ${segmentCount} segments exceed the limit of ${limits.maxSegments}`);
  // Each segment needs ≥ 1 descriptor byte: bounded by the bytes actually present.
  if (segmentCount > r.remaining) throw new ContainerTruncatedError(`truncated: ${segmentCount} segments declared, ${r.remaining} bytes left`);
  const segments: SegmentInfo[] = [];
  let totalSymbols = 0;
  for (let s = 0; s < segmentCount; s++) {
    const descriptor = r.varint('segment descriptor');
    const rank = descriptor % 8;
    const tag = Math.floor(descriptor / 8);
    const shape: number[] = [];
    for (let d = 0; d < rank; d++) shape.push(r.varint('segment dimension'));
    shape.push(levels);
    const size = boundedProduct(shape, limits.maxSymbolsPerSegment);
    if (size > limits.maxSymbolsPerSegment) throw new ContainerLimitError(`segment ${s}: declared shape [${shape.join(', ')}] exceeds ${limits.maxSymbolsPerSegment} codes`);
    totalSymbols += size;
    if (totalSymbols > limits.maxTotalSymbols) throw new ContainerLimitError(`declared segments exceed ${limits.maxTotalSymbols} codes in total`);
    segments.push({ tag, shape, size, payloadOffset: 0, payloadLength: 0 });
  }
  let declared = 0;
  for (let s = 0; s + 1 < segmentCount; s++) {
    const n = r.varint('payload length');
    segments[s].payloadLength = n;
    declared += n;
    if (declared > r.remaining) throw new ContainerTruncatedError(`truncated: payloads declare ${declared} bytes, ${r.remaining} left`);
  }
  const headerBytes = r.pos;
  let offset = headerBytes;
  for (let s = 0; s < segmentCount; s++) {
    segments[s].payloadOffset = offset;
    if (s === segmentCount - 1) segments[s].payloadLength = r.end - offset;
    offset += segments[s].payloadLength;
  }
  if (segmentCount === 0 && r.remaining !== 0) throw new ContainerCorruptError(`corrupt: ${r.remaining} payload byte(s) but no segments`);

  if (kind === 'fixed-length') {
    // Fixed-length payloads have a known size; checking it here bounds decoding by the input size.
    for (const [s, seg] of segments.entries()) {
      const expected = Math.ceil(fixedLengthStreamBits(seg.size, codebookSizes) / 8);
      if (seg.payloadLength !== expected) throw new ContainerCorruptError(`corrupt: segment ${s} payload is ${seg.payloadLength} bytes, its ${seg.size} fixed-length codes need ${expected}`);
    }
  }

  return {
    version: CONTAINER_VERSION,
    modality,
    tokenizerId,
    entropyModel: kind,
    modelFingerprint: fingerprint,
    codebookSizes,
    metadata,
    carryModelState: (flags & FLAG_CARRY_MODEL_STATE) !== 0,
    segments,
    headerBytes,
  };
}

/**
 * Reads and validates a container's header without decoding payloads (cheap:
 * a CRC pass plus the header fields).
 */
export function readContainerHeader(bytes: Uint8Array, options: Omit<ReadContainerOptions, 'model'> = {}): ContainerHeader {
  const limits = resolveLimits(options.limits);
  checkEnvelope(bytes, options.verifyChecksum ?? true);
  const header = parseHeader(bytes, limits);
  if (options.expectedTokenizerId !== undefined) {
    const expected = options.expectedTokenizerId.toLowerCase();
    tokenizerIdToBytes(expected);
    if (expected !== header.tokenizerId) throw new TokenizerMismatchError(expected, header.tokenizerId);
  }
  return header;
}

function resolveReadSpec(header: ContainerHeader, model: EntropyModelSpec | undefined): EntropyModelSpec {
  const kind = header.entropyModel;
  const builtin = builtinSpec(kind);
  if (builtin !== undefined && (model === undefined || model.kind !== kind)) return builtin;
  if (model === undefined) {
    throw new EntropyModelMismatchError(`the container is coded with a learned '${kind}' entropy model (fingerprint ${header.modelFingerprint ?? 'none'}); pass the tokenizer's model as options.model`);
  }
  if (model.kind !== kind) throw new EntropyModelMismatchError(`the container is coded with a '${kind}' entropy model but a '${model.kind}' model was supplied`);
  const supplied = model.fingerprint === undefined ? undefined : toHex(model.fingerprint);
  if (supplied !== header.modelFingerprint) {
    throw new EntropyModelMismatchError(
      `entropy model mismatch: the container was coded with '${kind}' model ${header.modelFingerprint ?? '(no fingerprint)'} but model ${supplied ?? '(no fingerprint)'} was supplied`,
    );
  }
  return model;
}

/** Reads a container: validates everything and decodes every segment. */
export function readContainer(bytes: Uint8Array, options: ReadContainerOptions = {}): { header: ContainerHeader; segments: DecodedSegment[] } {
  const header = readContainerHeader(bytes, options);
  const spec = resolveReadSpec(header, options.model);
  const sizes = header.codebookSizes;
  const segments: DecodedSegment[] = [];
  let models: ProbabilityModel[] | undefined;
  for (const [s, info] of header.segments.entries()) {
    const out = new Int32Array(info.size);
    const end = info.payloadOffset + info.payloadLength;
    try {
      if (spec.kind === 'fixed-length') {
        unpackFixedLength(bytes, info.size, sizes, out, info.payloadOffset, end);
      } else {
        if (models === undefined || !header.carryModelState) models = createLevelModels(spec, sizes);
        decodeCodeTensor(bytes, info.shape, models, out, info.payloadOffset, end);
      }
    } catch (err) {
      if (err instanceof EntropyDecodeError) throw new ContainerCorruptError(`corrupt: segment ${s} payload: ${err.message}`, { cause: err });
      if (err instanceof VqkitError && !(err instanceof ContainerCorruptError)) {
        throw new EntropyModelMismatchError(`segment ${s}: the entropy model cannot decode this container: ${err.message}`, { cause: err });
      }
      throw err;
    }
    segments.push({ tag: info.tag, shape: info.shape, codes: out });
  }
  return { header, segments };
}

/** Header bytes + checksum: what a container costs on top of its payloads. */
export function containerOverhead(header: ContainerHeader): number {
  return header.headerBytes + CHECKSUM_BYTES;
}
