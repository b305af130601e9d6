/**
 * The vqkit token container, format version 1: one file holds the token
 * streams of one item (an image's code grid, an utterance's multi-level
 * residual codes, a video's frames) as a header plus N segments, each a code
 * tensor of shape [..., levels]. Small files matter (a 7×7 Fashion-MNIST
 * grid of 9-bit codes is 55 bytes raw), so every integer is a varint and
 * optional fields cost nothing when absent.
 *
 * Byte layout (v = unsigned LEB128 varint, ≤ 5 bytes, canonical):
 *
 * | bytes   | field                                                          |
 * |---------|----------------------------------------------------------------|
 * | 2       | magic `0x56 0x51` ("VQ")                                       |
 * | 1       | format version (1)                                             |
 * | 1       | flags: bits 0–1 modality (0 generic, 1 image, 2 audio, 3 video);|
 * |         | bits 2–4 entropy model kind (0 fixed-length, 1 uniform,        |
 * |         | 2 adaptive, 3 static, 4 neighbour, 5 external); bit 5 model    |
 * |         | fingerprint present; bit 6 metadata present; bit 7 model state |
 * |         | carries across segments (else reset per segment)               |
 * | 8       | tokenizer id (SHA-256 of config + weights, truncated)          |
 * | 4       | model fingerprint (only if flag bit 5): learned model identity |
 * | v       | L = quantizer levels (≥ 1)                                     |
 * | v × L   | codebook size of each level (≥ 1)                              |
 * | v + n   | metadata length n and bytes (only if flag bit 6)               |
 * | v       | S = segment count                                              |
 * | per seg | v descriptor = tag·8 + rank (rank ≤ 7 dims before the levels   |
 * |         | axis; tag is application-defined, e.g. key/delta frame), then  |
 * |         | v × rank dims                                                  |
 * | v×(S−1) | payload byte length of every segment but the last              |
 * | …       | payloads in segment order; the last runs up to the checksum    |
 * | 4       | CRC-32 (big-endian) of every preceding byte                    |
 *
 * A payload is the segment's codes in row-major order, either bit-packed
 * (fixed-length: ⌈log2 K⌉ bits per code, MSB first, zero padding) or
 * range-coded with the header's entropy model (one model per level; left and
 * upper neighbours as context, see `code-stream.ts`).
 *
 * Reading checks, in order: size, magic, version, CRC, then the header with
 * every declared size bounded by `ContainerLimits` before anything is
 * allocated, the tokenizer id, the model, and finally the payloads (whose
 * coders verify they end exactly where a valid stream ends).
 */
import type { EntropyModelKind } from '../entropy/spec.js';

export const CONTAINER_MAGIC = Uint8Array.of(0x56, 0x51);
export const CONTAINER_VERSION = 1;
/** Magic + version + flags + tokenizer id. */
export const FIXED_HEADER_BYTES = 12;
export const CHECKSUM_BYTES = 4;
/** Largest segment rank (dims before the levels axis) the descriptor's 3 bits hold. */
export const MAX_SEGMENT_RANK = 7;

export type Modality = 'generic' | 'image' | 'audio' | 'video';
export const MODALITY_IDS: Readonly<Record<Modality, number>> = Object.freeze({ generic: 0, image: 1, audio: 2, video: 3 });

export const FLAG_FINGERPRINT = 1 << 5;
export const FLAG_METADATA = 1 << 6;
export const FLAG_CARRY_MODEL_STATE = 1 << 7;

/** Upper bounds on what a header may declare; checked before allocating. */
export interface ContainerLimits {
  /** Most segments. Default 65536. */
  maxSegments?: number;
  /** Most quantizer levels. Default 64. */
  maxLevels?: number;
  /** Largest codebook size of a level. Default 65536 (hard maximum 2^22). */
  maxCodebookSize?: number;
  /** Most codes in one segment (product of its shape). Default 2^24. */
  maxSymbolsPerSegment?: number;
  /** Most codes over all segments (bounds decode time and memory: 4 bytes each). Default 2^24. */
  maxTotalSymbols?: number;
  /** Largest metadata block. Default 65536 bytes. */
  maxMetadataBytes?: number;
}

export const DEFAULT_CONTAINER_LIMITS: Readonly<Required<ContainerLimits>> = Object.freeze({
  maxSegments: 1 << 16,
  maxLevels: 64,
  maxCodebookSize: 1 << 16,
  maxSymbolsPerSegment: 1 << 24,
  maxTotalSymbols: 1 << 24,
  maxMetadataBytes: 1 << 16,
});

/** One code tensor of the container. */
export interface CodeSegment {
  /** Application-defined tag (e.g. 0 key frame, 1 delta frame). Default 0. */
  tag?: number;
  /** Shape [..., levels]; the last axis must equal the container's level count. */
  shape: readonly number[];
  /** Codes in row-major order, each < the codebook size of its level. */
  codes: ArrayLike<number>;
}

/** A decoded segment. */
export interface DecodedSegment {
  tag: number;
  shape: number[];
  codes: Int32Array;
}

/** Where a segment lives in the container (from the header alone). */
export interface SegmentInfo {
  tag: number;
  /** Shape [..., levels]. */
  shape: number[];
  /** Number of codes (product of the shape). */
  size: number;
  /** Payload byte range within the container. */
  payloadOffset: number;
  payloadLength: number;
}

/** What the writer needs besides the segments. */
export interface ContainerHeaderInit {
  /** What the tokens encode. Default 'generic'. */
  modality?: Modality;
  /** Id of the tokenizer that produced the codes (16 hex characters, see `computeTokenizerId`). */
  tokenizerId: string;
  /** Codebook size of each quantizer level. */
  codebookSizes: readonly number[];
  /** Application metadata (e.g. original image size, sample rate). Costs nothing when absent. */
  metadata?: Uint8Array;
  /**
   * Keep entropy-model state across segments (better adaptive coding of many
   * small frames, but segments no longer decode independently). Default false.
   */
  carryModelState?: boolean;
}

/** A parsed header. */
export interface ContainerHeader {
  version: number;
  modality: Modality;
  tokenizerId: string;
  entropyModel: EntropyModelKind;
  /** Learned model fingerprint (8 hex characters), when the model has parameters. */
  modelFingerprint: string | undefined;
  codebookSizes: number[];
  metadata: Uint8Array | undefined;
  carryModelState: boolean;
  segments: SegmentInfo[];
  /** Bytes before the first payload (the header's size; with the 4-byte checksum, the container's overhead). */
  headerBytes: number;
}
