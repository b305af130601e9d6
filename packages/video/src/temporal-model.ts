/**
 * The entropy model of video code streams: "code delta under a context
 * model". Every coded frame is a full code grid [h, w, levels]; what makes a
 * static scene almost free is the model, which predicts each code to be a
 * *candidate* — in a delta frame the code at the same position in the
 * previous frame, in a key frame the left (else upper) neighbour — and
 * learns, per context, how often the candidate is right:
 *
 *   P(s) = (c(s) + [s = candidate] · B) / (C + B),   B = ⌊C · hits / misses⌋
 *
 * with c the adaptive code counts (core's AdaptiveFrequencyModel, total C)
 * and hits/misses adaptive counts of the context (halved past 4096, so
 * P(candidate) reaches 4095/4096: a position that keeps its code costs about
 * 0.00035 bits). Delta-frame contexts: whether the left and the upper
 * neighbour kept their codes in this frame and whether this position kept
 * its code in the previous frame (3 states each: none / kept / changed →
 * 27 contexts); key frames use 4 contexts (no neighbour, left only,
 * left = up, left ≠ up). A code that changed in the previous frame often
 * flips back, so in delta frames the code from two frames ago (when it
 * differs from the previous one) is a second candidate, weighted the same way
 * within the remaining probability (3 contexts: whether the left neighbour
 * just flipped back).
 *
 * A key frame resets all statistics and predicts only from inside the frame,
 * so each group of frames from a key frame on decodes on its own.
 *
 * In the container this is an `external` model (kind 5) with a fixed
 * fingerprint of its name and constants; the container must be written with
 * `carryModelState` (the model follows the frame sequence), and both sides
 * build it from the segment layout in the header.
 */
import {
  AdaptiveFrequencyModel,
  ADAPTIVE_MODEL_DEFAULTS,
  InvalidArgumentError,
  MAX_TOTAL_FREQUENCY,
  modelFingerprint,
  type CodingContext,
  type EntropyModelSpec,
  type FrequencyTable,
  type ProbabilityModel,
} from '@vqkit/core';

/** Coded frame kinds (repeat runs code no symbols and are not part of the model's layout). */
export type CodedFrameKind = 'key' | 'delta';

/** What the model needs to follow the stream: the grid of every frame and the kind of each coded segment. */
export interface TemporalModelLayout {
  /** Code grid of every frame: [h, w, levels]. */
  frameShape: readonly [number, number, number];
  /** Kind of each segment that holds codes, in container order. */
  kinds: readonly CodedFrameKind[];
}

/** Name and version of the model; part of its fingerprint. */
export const TEMPORAL_MODEL_NAME = 'vqkit.video.temporal-candidate/1';
/** Hit/miss counts are halved when their sum passes this. */
const HIT_COUNT_LIMIT = 4096;
/** Hit/miss context ids: 27 delta-frame contexts, 4 key-frame contexts, 3 flip-back contexts. */
const KEY_CONTEXT = 27;
const FLIP_CONTEXT = 31;
const CONTEXTS = 34;

/** The model's identity in containers (name + constants; it has no learned parameters). */
export const TEMPORAL_MODEL_FINGERPRINT: Uint8Array = modelFingerprint(
  new TextEncoder().encode(`${TEMPORAL_MODEL_NAME};hitLimit=${HIT_COUNT_LIMIT};adaptive=${ADAPTIVE_MODEL_DEFAULTS.increment},${ADAPTIVE_MODEL_DEFAULTS.maxTotal}`),
);

/** The adaptive code counts plus a bonus on the candidate symbol. */
class CandidateTable implements FrequencyTable {
  base!: FrequencyTable;
  candidate = 0;
  bonus = 0;
  total = 0;

  set(base: FrequencyTable, candidate: number, bonus: number): this {
    this.base = base;
    this.candidate = candidate;
    this.bonus = bonus;
    this.total = base.total + bonus;
    return this;
  }

  lowerBound(symbol: number): number {
    return this.base.lowerBound(symbol) + (symbol > this.candidate ? this.bonus : 0);
  }

  frequency(symbol: number): number {
    return this.base.frequency(symbol) + (symbol === this.candidate ? this.bonus : 0);
  }

  symbolAt(target: number): number {
    const low = this.base.lowerBound(this.candidate);
    if (target < low) return this.base.symbolAt(target);
    if (target < low + this.base.frequency(this.candidate) + this.bonus) return this.candidate;
    return this.base.symbolAt(target - this.bonus);
  }
}

/** One quantizer level's model; follows the segments of the layout through the coded positions. */
class TemporalLevelModel implements ProbabilityModel {
  readonly alphabetSize: number;
  private readonly levels: number;
  private readonly rowStride: number;
  private readonly frameSize: number;
  private readonly kinds: readonly CodedFrameKind[];
  /** Codes of the frame before the previous one, the previous frame and the current frame. */
  private older: Int32Array;
  private prev: Int32Array;
  private cur: Int32Array;
  /** Frames coded since the last key frame (1 = the key frame itself). */
  private framesInGroup = 0;
  /** Per position: did it keep its code in the last delta frame (0 unknown, 1 kept, 2 changed)? */
  private readonly kept: Uint8Array;
  private readonly codes: AdaptiveFrequencyModel;
  private readonly hits = new Float64Array(CONTEXTS);
  private readonly misses = new Float64Array(CONTEXTS);
  private readonly inner = new CandidateTable();
  private readonly outer = new CandidateTable();
  private segment = -1;
  private lastPosition = Number.POSITIVE_INFINITY;
  private kind: CodedFrameKind = 'key';
  private stepCandidate = -1;
  private stepContext = -1;
  private stepFallback = -1;
  private stepFallbackContext = -1;

  constructor(alphabetSize: number, layout: TemporalModelLayout) {
    const [h, w, levels] = layout.frameShape;
    this.alphabetSize = alphabetSize;
    this.levels = levels;
    this.rowStride = w * levels;
    this.frameSize = h * w * levels;
    this.kinds = layout.kinds;
    this.older = new Int32Array(this.frameSize);
    this.prev = new Int32Array(this.frameSize);
    this.cur = new Int32Array(this.frameSize);
    this.kept = new Uint8Array(this.frameSize);
    this.codes = new AdaptiveFrequencyModel(alphabetSize);
    this.reset();
  }

  reset(): void {
    this.segment = -1;
    this.lastPosition = Number.POSITIVE_INFINITY;
    this.resetStatistics();
  }

  private resetStatistics(): void {
    this.codes.reset();
    this.hits.fill(1);
    this.misses.fill(1);
    this.kept.fill(0);
    this.framesInGroup = 0;
  }

  /** Positions only grow within a segment, so a position ≤ the last one starts the next segment. */
  private beginSegment(): void {
    this.segment++;
    const kind = this.kinds[this.segment];
    if (kind === undefined) throw new InvalidArgumentError(`the code stream has more coded frames than its layout declares (${this.kinds.length})`);
    if (this.segment > 0) [this.older, this.prev, this.cur] = [this.prev, this.cur, this.older];
    if (kind === 'key') this.resetStatistics();
    this.framesInGroup++;
    this.kind = kind;
  }

  /** Bonus frequency that gives `candidate` the context's hit rate on top of `base`. */
  private bonus(context: number, base: number, cap: number): number {
    return Math.max(0, Math.min(cap - base, Math.floor((base * this.hits[context]!) / this.misses[context]!)));
  }

  frequencies(ctx: CodingContext): FrequencyTable {
    const pos = ctx.position;
    if (pos <= this.lastPosition) this.beginSegment();
    this.lastPosition = pos;
    if (pos >= this.frameSize) throw new InvalidArgumentError(`position ${pos} is outside the frame of ${this.frameSize} codes`);
    this.stepFallback = -1;
    let candidate: number;
    let context: number;
    if (this.kind === 'delta') {
      candidate = this.prev[pos]!;
      const left = ctx.left < 0 ? 0 : this.cur[pos - this.levels] === this.prev[pos - this.levels] ? 1 : 2;
      const up = ctx.up < 0 ? 0 : this.cur[pos - this.rowStride] === this.prev[pos - this.rowStride] ? 1 : 2;
      context = left * 9 + up * 3 + this.kept[pos]!;
      // A code that just changed often flips back: the code before it is the second guess.
      const older = this.older[pos]!;
      if (this.framesInGroup >= 3 && older !== candidate) {
        const leftFlip = ctx.left < 0 ? 0 : this.cur[pos - this.levels] !== this.prev[pos - this.levels] && this.cur[pos - this.levels] === this.older[pos - this.levels] ? 2 : 1;
        this.stepFallback = older;
        this.stepFallbackContext = FLIP_CONTEXT + leftFlip;
      }
    } else if (ctx.left >= 0) {
      candidate = ctx.left;
      context = KEY_CONTEXT + (ctx.up < 0 ? 1 : ctx.left === ctx.up ? 2 : 3);
    } else if (ctx.up >= 0) {
      candidate = ctx.up;
      context = KEY_CONTEXT;
    } else {
      this.stepContext = -1;
      return this.codes;
    }
    this.stepCandidate = candidate;
    this.stepContext = context;
    let base: FrequencyTable = this.codes;
    if (this.stepFallback >= 0) {
      base = this.inner.set(this.codes, this.stepFallback, this.bonus(this.stepFallbackContext, this.codes.total, MAX_TOTAL_FREQUENCY >> 1));
    }
    return this.outer.set(base, candidate, this.bonus(context, base.total, MAX_TOTAL_FREQUENCY));
  }

  private count(context: number, hit: boolean): void {
    if (hit) this.hits[context]!++;
    else this.misses[context]!++;
    if (this.hits[context]! + this.misses[context]! > HIT_COUNT_LIMIT) {
      this.hits[context] = Math.ceil(this.hits[context]! / 2);
      this.misses[context] = Math.ceil(this.misses[context]! / 2);
    }
  }

  update(symbol: number, ctx: CodingContext): void {
    const pos = ctx.position;
    let novel = true;
    if (this.stepContext >= 0) {
      const hit = symbol === this.stepCandidate;
      this.count(this.stepContext, hit);
      novel = !hit;
      if (!hit && this.stepFallback >= 0) {
        const flip = symbol === this.stepFallback;
        this.count(this.stepFallbackContext, flip);
        novel = !flip;
      }
    }
    if (novel) this.codes.update(symbol, ctx);
    if (this.kind === 'delta') this.kept[pos] = symbol === this.prev[pos] ? 1 : 2;
    this.cur[pos] = symbol;
  }
}

/** The container's model spec for a video with this layout (same on the encoder and the decoder side). */
export function temporalModelSpec(layout: TemporalModelLayout): EntropyModelSpec {
  const [h, w, levels] = layout.frameShape;
  if (![h, w, levels].every((d) => Number.isInteger(d) && d >= 1)) throw new InvalidArgumentError(`frame code shape [${layout.frameShape.join(', ')}] must be positive integers`);
  if (layout.kinds.length > 0 && layout.kinds[0] !== 'key') throw new InvalidArgumentError('the first coded frame must be a key frame');
  return {
    kind: 'external',
    fingerprint: TEMPORAL_MODEL_FINGERPRINT,
    createModel(_level: number, alphabetSize: number): ProbabilityModel {
      return new TemporalLevelModel(alphabetSize, layout);
    },
  };
}
