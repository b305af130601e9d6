/**
 * Audio codes in the shared token container (core's `writeContainer`,
 * modality 'audio'): one segment of shape [frames, levels]. The container's
 * codebook sizes list only the levels that were kept, so its level count is
 * the bitrate. Metadata (absent when zero): the number of padding samples
 * after the signal in the last frame, as an unsigned LEB128 varint, so
 * decoding restores the exact length. The sample rate is the tokenizer's,
 * which the container identifies by id.
 */
import {
  ContainerCorruptError,
  readContainer,
  writeContainer,
  type ContainerHeader,
  type EntropyModelSpec,
} from '@vqkit/core';
import type { AudioTokenizer, EncodedAudio } from './tokenizer.js';

/** What packing needs to know about the tokenizer (an AudioTokenizer provides it). */
export interface AudioCodeSpace {
  tokenizerId: string;
  /** Codebook size of every level of the model. */
  codebookSizes: readonly number[];
  /** Samples per frame. */
  hopLength: number;
  sampleRate: number;
}

export function audioCodeSpace(tokenizer: AudioTokenizer): AudioCodeSpace {
  return { tokenizerId: tokenizer.id, codebookSizes: tokenizer.codebookSizes, hopLength: tokenizer.hopLength, sampleRate: tokenizer.sampleRate };
}

export interface PackedAudio {
  bytes: Uint8Array;
  /** Bits per second of audio actually stored (container bytes · 8 / duration). */
  bitsPerSecond: number;
}

function writeVarint(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  do {
    const byte = v & 0x7f;
    v = Math.floor(v / 128);
    out.push(v > 0 ? byte | 0x80 : byte);
  } while (v > 0);
  return Uint8Array.from(out);
}

function readVarint(bytes: Uint8Array): number | undefined {
  let value = 0;
  for (let i = 0; i < bytes.length && i < 4; i++) {
    value += (bytes[i]! & 0x7f) * 128 ** i;
    if ((bytes[i]! & 0x80) === 0) return i === bytes.length - 1 ? value : undefined;
  }
  return undefined;
}

/** Codes → container bytes (entropy-coded with the parameter-free adaptive model unless `model` is given). */
export function packAudioCodes(encoded: EncodedAudio, space: AudioCodeSpace, options: { model?: EntropyModelSpec } = {}): PackedAudio {
  const padding = encoded.frames * space.hopLength - encoded.length;
  const bytes = writeContainer(
    {
      modality: 'audio',
      tokenizerId: space.tokenizerId,
      codebookSizes: space.codebookSizes.slice(0, encoded.levels),
      metadata: padding > 0 ? writeVarint(padding) : undefined,
    },
    [{ shape: [encoded.frames, encoded.levels], codes: encoded.codes }],
    { model: options.model },
  );
  const seconds = encoded.length / space.sampleRate;
  return { bytes, bitsPerSecond: seconds > 0 ? (bytes.length * 8) / seconds : 0 };
}

/**
 * Container bytes → codes. Throws the container's typed errors
 * (`TokenizerMismatchError` when another tokenizer wrote it, checksum,
 * truncation …) and `ContainerCorruptError` for an audio layout that does
 * not fit this tokenizer.
 */
export function unpackAudioCodes(bytes: Uint8Array, space: AudioCodeSpace, options: { model?: EntropyModelSpec } = {}): { codes: EncodedAudio; header: ContainerHeader } {
  const { header, segments } = readContainer(bytes, { expectedTokenizerId: space.tokenizerId, model: options.model });
  if (header.modality !== 'audio') throw new ContainerCorruptError(`the container holds ${header.modality} codes, not audio`);
  const levels = header.codebookSizes.length;
  if (levels > space.codebookSizes.length || header.codebookSizes.some((k, i) => k !== space.codebookSizes[i])) {
    throw new ContainerCorruptError(`codebook sizes [${header.codebookSizes}] do not match the tokenizer's [${space.codebookSizes}]`);
  }
  if (segments.length !== 1 || segments[0]!.shape.length !== 2) throw new ContainerCorruptError('an audio container holds exactly one [frames, levels] segment');
  const seg = segments[0]!;
  const frames = seg.shape[0]!;
  const padding = header.metadata === undefined ? 0 : readVarint(header.metadata);
  if (padding === undefined || padding >= space.hopLength || (header.metadata !== undefined && padding === 0) || (frames === 0 && padding > 0)) {
    throw new ContainerCorruptError('corrupt: invalid audio padding metadata');
  }
  return { codes: { codes: seg.codes, frames, levels, length: frames * space.hopLength - padding, sampleRate: space.sampleRate }, header };
}
