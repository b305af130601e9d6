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
 * left = up, left ≠ up).
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
const DELTA_CONTEXTS = 27;
const KEY_CONTEXTS = 4;

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
  private prev: Int32Array;
  private cur: Int32Array;
  /** Per position: did it keep its code in the last delta frame (0 unknown, 1 kept, 2 changed)? */
  private readonly kept: Uint8Array;
  private readonly codes: AdaptiveFrequencyModel;
  private readonly hits = new Float64Array(DELTA_CONTEXTS + KEY_CONTEXTS);
  private readonly misses = new Float64Array(DELTA_CONTEXTS + KEY_CONTEXTS);
  private readonly table = new CandidateTable();
  private segment = -1;
  private lastPosition = Number.POSITIVE_INFINITY;
  private kind: CodedFrameKind = 'key';
  private stepCandidate = -1;
  private stepContext = -1;

  constructor(alphabetSize: number, layout: TemporalModelLayout) {
    const [h, w, levels] = layout.frameShape;
    this.alphabetSize = alphabetSize;
    this.levels = levels;
    this.rowStride = w * levels;
    this.frameSize = h * w * levels;
    this.kinds = layout.kinds;
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
  }

  /** Positions only grow within a segment, so a position ≤ the last one starts the next segment. */
  private beginSegment(): void {
    this.segment++;
    const kind = this.kinds[this.segment];
    if (kind === undefined) throw new InvalidArgumentError(`the code stream has more coded frames than its layout declares (${this.kinds.length})`);
    if (this.segment > 0) [this.prev, this.cur] = [this.cur, this.prev];
    if (kind === 'key') this.resetStatistics();
    this.kind = kind;
  }

  frequencies(ctx: CodingContext): FrequencyTable {
    const pos = ctx.position;
    if (pos <= this.lastPosition) this.beginSegment();
    this.lastPosition = pos;
    if (pos >= this.frameSize) throw new InvalidArgumentError(`position ${pos} is outside the frame of ${this.frameSize} codes`);
    let candidate: number;
    let context: number;
    if (this.kind === 'delta') {
      candidate = this.prev[pos]!;
      const left = ctx.left < 0 ? 0 : this.cur[pos - this.levels] === this.prev[pos - this.levels] ? 1 : 2;
      const up = ctx.up < 0 ? 0 : this.cur[pos - this.rowStride] === this.prev[pos - this.rowStride] ? 1 : 2;
      context = left * 9 + up * 3 + this.kept[pos]!;
    } else if (ctx.left >= 0) {
      candidate = ctx.left;
      context = DELTA_CONTEXTS + (ctx.up < 0 ? 1 : ctx.left === ctx.up ? 2 : 3);
    } else if (ctx.up >= 0) {
      candidate = ctx.up;
      context = DELTA_CONTEXTS;
    } else {
      this.stepContext = -1;
      return this.codes;
    }
    this.stepCandidate = candidate;
    this.stepContext = context;
    const base = this.codes.total;
    const bonus = Math.min(MAX_TOTAL_FREQUENCY - base, Math.floor((base * this.hits[context]!) / this.misses[context]!));
    return this.table.set(this.codes, candidate, bonus);
  }

  update(symbol: number, ctx: CodingContext): void {
    const pos = ctx.position;
    const c = this.stepContext;
    if (c >= 0) {
      if (symbol === this.stepCandidate) this.hits[c]!++;
      else {
        this.misses[c]!++;
        this.codes.update(symbol, ctx);
      }
      if (this.hits[c]! + this.misses[c]! > HIT_COUNT_LIMIT) {
        this.hits[c] = Math.ceil(this.hits[c]! / 2);
        this.misses[c] = Math.ceil(this.misses[c]! / 2);
      }
    } else {
      this.codes.update(symbol, ctx);
    }
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
