/**
 * Training data for the prior: a set of token sequences, cut into
 * context-sized windows. A window is the sequence's prefix (BOS / class
 * token) followed by a run of the remaining tokens that starts on a multiple
 * of `windowAlign` (frame boundaries for audio), so the model always sees its
 * condition and aligned positions — the same windows the decoder slides to.
 */
import { InvalidArgumentError, type Rng } from '@vqkit/core';
import type { Vocabulary } from './vocabulary.js';

/** Sequences as an array, or packed: `tokens` with `offsets` (length n + 1; sequence i is tokens[offsets[i], offsets[i+1])). */
export type TokenSequences = readonly ArrayLike<number>[] | { tokens: ArrayLike<number>; offsets: ArrayLike<number> };

/** Normalises {@link TokenSequences} to Int32Array views, validating ids against the vocabulary. */
export function toSequenceList(data: TokenSequences, vocabSize: number, what: string): Int32Array[] {
  let list: Int32Array[];
  if (Array.isArray(data)) {
    list = (data as readonly ArrayLike<number>[]).map((s) => (s instanceof Int32Array ? s : Int32Array.from(s)));
  } else {
    const { tokens, offsets } = data as { tokens: ArrayLike<number>; offsets: ArrayLike<number> };
    const flat = tokens instanceof Int32Array ? tokens : Int32Array.from(tokens);
    list = [];
    for (let i = 0; i + 1 < offsets.length; i++) {
      const a = offsets[i]!;
      const b = offsets[i + 1]!;
      if (!(Number.isInteger(a) && Number.isInteger(b) && 0 <= a && a <= b && b <= flat.length)) {
        throw new InvalidArgumentError(`${what}: offsets[${i}..${i + 1}] = [${a}, ${b}] is not a valid range of ${flat.length} tokens`);
      }
      list.push(flat.subarray(a, b));
    }
  }
  list.forEach((seq, i) => {
    if (seq.length < 2) throw new InvalidArgumentError(`${what}: sequence ${i} has ${seq.length} token(s); a sequence needs a prefix and at least one token`);
    for (let j = 0; j < seq.length; j++) {
      const t = seq[j]!;
      if (!(t >= 0 && t < vocabSize)) throw new InvalidArgumentError(`${what}: sequence ${i} token ${j} is ${t}, outside the vocabulary [0, ${vocabSize})`);
    }
  });
  return list;
}

/** A batch ready for the model: inputs, targets and a 0/1 loss weight per target, all [batch, time] row-major. */
export interface WindowBatch {
  batch: number;
  time: number;
  inputs: Int32Array;
  targets: Int32Array;
  weights: Float32Array;
}

/** How windows are cut. */
export interface WindowSpec {
  /** Model context: a window has at most nPositions + 1 tokens (inputs + the last target). */
  nPositions: number;
  /** Leading tokens always kept and never predicted. */
  prefixLength: number;
  /** Window starts (after the prefix) are multiples of this. */
  windowAlign: number;
}

/** Packs windows `[tokens]` (each ≤ nPositions + 1 long) into a padded batch; targets inside the prefix get weight 0. */
export function packWindows(windows: readonly Int32Array[], prefixLength: number): WindowBatch {
  const B = windows.length;
  const T = Math.max(...windows.map((w) => w.length)) - 1;
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  const weights = new Float32Array(B * T);
  windows.forEach((w, b) => {
    for (let t = 0; t + 1 < w.length; t++) {
      inputs[b * T + t] = w[t]!;
      targets[b * T + t] = w[t + 1]!;
      // Target t is token t + 1 of the window.
      weights[b * T + t] = t + 1 >= prefixLength ? 1 : 0;
    }
  });
  return { batch: B, time: T, inputs, targets, weights };
}

/** A random training window of `seq` (the whole sequence if it fits). */
export function randomWindow(seq: Int32Array, spec: WindowSpec, rng: Rng): Int32Array {
  const maxLen = spec.nPositions + 1;
  if (seq.length <= maxLen) return seq;
  const P = Math.min(spec.prefixLength, maxLen - 1);
  const body = maxLen - P;
  const rest = seq.length - P;
  const starts = Math.floor((rest - body) / spec.windowAlign) + 1;
  const start = P + rng.int(starts) * spec.windowAlign;
  const out = new Int32Array(maxLen);
  out.set(seq.subarray(0, P), 0);
  out.set(seq.subarray(start, start + body), P);
  return out;
}

/**
 * Deterministic evaluation windows covering every token after the prefix
 * exactly once as a target: the prefix plus consecutive chunks of the rest.
 */
export function evaluationWindows(seq: Int32Array, spec: WindowSpec): Int32Array[] {
  const maxLen = spec.nPositions + 1;
  if (seq.length <= maxLen) return [seq];
  const P = Math.min(spec.prefixLength, maxLen - 1);
  const body = maxLen - P;
  const out: Int32Array[] = [];
  for (let start = P; start < seq.length; start += body) {
    const end = Math.min(seq.length, start + body);
    const w = new Int32Array(P + end - start);
    w.set(seq.subarray(0, P), 0);
    w.set(seq.subarray(start, end), P);
    out.push(w);
  }
  return out;
}

/** Options of a {@link TrainingSampler}. */
export interface TrainingSamplerOptions extends WindowSpec {
  /** Windows per step. */
  batchSize: number;
  /** Probability of replacing a class-token prefix with BOS (so the model also learns the unconditional distribution). */
  classDropout: number;
  /** The token layout (to recognise class tokens and find BOS). */
  vocabulary: Vocabulary;
  /** Root generator; the sampler only forks it, so its use depends on the step alone. */
  rng: Rng;
}

/**
 * The training batches as a pure function of (seed, step): example k of the
 * run is sequence perm_e[k mod n] of epoch e = floor(k / n), with the
 * permutation from `rng.fork('epoch<e>')` and the crops / class dropout from
 * `rng.fork('step<s>')`. A resumed run therefore needs only the step number
 * to see exactly the batches the uninterrupted run would have.
 */
export class TrainingSampler {
  private cachedEpoch = -1;
  private permutation: Int32Array = new Int32Array(0);

  constructor(
    private readonly sequences: readonly Int32Array[],
    private readonly options: TrainingSamplerOptions,
  ) {
    if (sequences.length === 0) throw new InvalidArgumentError('no training sequences');
  }

  /** The windows of training step `step`. */
  windows(step: number): Int32Array[] {
    const { batchSize, classDropout, vocabulary: vocab, rng } = this.options;
    const stepRng = rng.fork(`step${step}`);
    const out: Int32Array[] = [];
    for (let i = 0; i < batchSize; i++) {
      let w = randomWindow(this.sequenceAt(step * batchSize + i), this.options, stepRng);
      const first = w[0]!;
      const isClass = first >= vocab.firstClassId && first < vocab.firstClassId + vocab.numClasses;
      if (classDropout > 0 && isClass && stepRng.uniform() < classDropout) {
        w = w.slice();
        w[0] = vocab.bosId;
      }
      out.push(w);
    }
    return out;
  }

  private sequenceAt(k: number): Int32Array {
    const n = this.sequences.length;
    const epoch = Math.floor(k / n);
    if (epoch !== this.cachedEpoch) {
      this.permutation = this.options.rng.fork(`epoch${epoch}`).permutation(n);
      this.cachedEpoch = epoch;
    }
    return this.sequences[this.permutation[k % n]!]!;
  }
}
