/**
 * How the container names and instantiates an entropy model. The container
 * stores the kind (and, for learned models, a 4-byte fingerprint of their
 * parameters) so a decoder either rebuilds exactly the encoder's model or
 * fails with a clear mismatch error.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { AdaptiveFrequencyModel } from './adaptive-model.js';
import type { ProbabilityModel } from './model.js';
import { UniformModel } from './uniform-model.js';

/**
 * - `fixed-length`: (a) raw bit packing, ⌈log2 K⌉ bits per code, no coder;
 * - `uniform`: (a) through the range coder, log2 K bits per code;
 * - `adaptive`: (b) adaptive counts, no parameters to ship;
 * - `static`: (c) learned code frequencies shipped with the tokenizer;
 * - `neighbour`: (c') learned frequencies conditioned on left/upper neighbours;
 * - `external`: (d) an external predictor such as the Transformer prior.
 */
export type EntropyModelKind = 'fixed-length' | 'uniform' | 'adaptive' | 'static' | 'neighbour' | 'external';

/** Wire ids of the kinds (3 bits in the container flags byte). Append-only. */
export const ENTROPY_MODEL_KIND_IDS: Readonly<Record<EntropyModelKind, number>> = Object.freeze({
  'fixed-length': 0,
  uniform: 1,
  adaptive: 2,
  static: 3,
  neighbour: 4,
  external: 5,
});

/** Bytes of a learned model's fingerprint in the container. */
export const MODEL_FINGERPRINT_BYTES = 4;

/** An entropy model as the container uses it: its kind, its identity, and a factory of fresh per-level models. */
export interface EntropyModelSpec {
  readonly kind: EntropyModelKind;
  /** 4-byte identity of learned parameters (truncated SHA-256 of their serialisation); absent for parameter-free kinds. */
  readonly fingerprint?: Uint8Array;
  /** A fresh model for quantizer `level` with `alphabetSize` codes. Not called for `fixed-length`. */
  createModel(level: number, alphabetSize: number): ProbabilityModel;
  /**
   * Optional: fresh models for all levels at once, for models that share
   * state across levels (a prior that sees the interleaved history of every
   * level). When present it is used instead of `createModel`.
   */
  createModels?(codebookSizes: readonly number[]): ProbabilityModel[];
}

/** Fresh per-level models of a spec (through `createModels` when it has one). */
export function createLevelModels(spec: EntropyModelSpec, codebookSizes: readonly number[]): ProbabilityModel[] {
  const models = spec.createModels !== undefined ? spec.createModels(codebookSizes) : codebookSizes.map((k, level) => spec.createModel(level, k));
  if (models.length !== codebookSizes.length || models.some((m, l) => m.alphabetSize !== codebookSizes[l])) {
    throw new InvalidArgumentError(`entropy model '${spec.kind}' produced models that do not match the codebook sizes [${codebookSizes.join(', ')}]`);
  }
  for (const m of models) m.reset();
  return models;
}

/** First `MODEL_FINGERPRINT_BYTES` bytes of SHA-256 of `bytes`. */
export function modelFingerprint(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest().subarray(0, MODEL_FINGERPRINT_BYTES));
}

/** (a) Raw fixed-length codes (bit packing). */
export const fixedLengthSpec: EntropyModelSpec = Object.freeze({
  kind: 'fixed-length' as const,
  createModel(_level: number, alphabetSize: number): ProbabilityModel {
    return new UniformModel(alphabetSize);
  },
});

/** (a') Uniform model through the range coder: exact log2 K bits for non-power-of-two codebooks. */
export const uniformSpec: EntropyModelSpec = Object.freeze({
  kind: 'uniform' as const,
  createModel(_level: number, alphabetSize: number): ProbabilityModel {
    return new UniformModel(alphabetSize);
  },
});

/** (b) Adaptive frequency model with the format's fixed default parameters. */
export const adaptiveSpec: EntropyModelSpec = Object.freeze({
  kind: 'adaptive' as const,
  createModel(_level: number, alphabetSize: number): ProbabilityModel {
    return new AdaptiveFrequencyModel(alphabetSize);
  },
});

/** Hex string of bytes (ids and fingerprints in messages). */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}
