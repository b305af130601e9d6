/**
 * Model (d): frequencies from an external predictor, e.g. the Transformer
 * prior, which produces a probability vector per step from the codes so far.
 * The vector is quantized with `quantizeFrequencies` (every symbol ≥ 1, fixed
 * total), so coding stays exact as long as the predictor returns the same
 * floats on the encoding and the decoding side.
 */
import { InvalidArgumentError } from '../errors.js';
import { CumulativeFrequencyTable, MAX_ALPHABET_SIZE, type CodingContext, type FrequencyTable, type ProbabilityModel } from './model.js';
import { defaultFrequencyTotal, quantizeFrequencies } from './quantize.js';
import { MODEL_FINGERPRINT_BYTES, type EntropyModelSpec } from './spec.js';

/**
 * Predicts the distribution of the next symbol (a vector of `alphabetSize`
 * non-negative weights, e.g. softmax probabilities) from the symbols coded so
 * far: this level's, or every level's in coding order when the models share
 * a history (see `externalPredictorSpec`).
 */
export type SymbolPredictor = (history: readonly number[], context: CodingContext) => ArrayLike<number>;

export interface ExternalPredictorModelOptions {
  /** Total of the quantized frequencies. Default 2^16 (more for alphabets > 2^15). */
  total?: number;
  /** History array to append coded symbols to; pass one array to several levels' models to share it. Default: a private array. */
  history?: number[];
}

export class ExternalPredictorModel implements ProbabilityModel {
  readonly alphabetSize: number;
  private readonly predictor: SymbolPredictor;
  private readonly total: number;
  private readonly history: number[];
  private readonly scratch: Uint32Array;

  constructor(alphabetSize: number, predictor: SymbolPredictor, options: ExternalPredictorModelOptions = {}) {
    if (!Number.isInteger(alphabetSize) || alphabetSize < 1 || alphabetSize > MAX_ALPHABET_SIZE) {
      throw new InvalidArgumentError(`ExternalPredictorModel: alphabet size ${alphabetSize} outside [1, ${MAX_ALPHABET_SIZE}]`);
    }
    this.alphabetSize = alphabetSize;
    this.predictor = predictor;
    this.total = options.total ?? defaultFrequencyTotal(alphabetSize);
    this.scratch = new Uint32Array(alphabetSize);
    this.history = options.history ?? [];
  }

  frequencies(context: CodingContext): FrequencyTable {
    const probabilities = this.predictor(this.history, context);
    if (probabilities.length !== this.alphabetSize) {
      throw new InvalidArgumentError(`ExternalPredictorModel: predictor returned ${probabilities.length} probabilities for ${this.alphabetSize} symbols`);
    }
    return new CumulativeFrequencyTable(quantizeFrequencies(probabilities, this.total, this.scratch));
  }

  update(symbol: number, _context: CodingContext): void {
    this.history.push(symbol);
  }

  reset(): void {
    this.history.length = 0;
  }
}

export interface ExternalPredictorSpecOptions {
  /** Identity of the predictor's parameters (e.g. `modelFingerprint(priorWeights)`), stored in containers it codes. */
  fingerprint: Uint8Array;
  /** A predictor for one level (called once per level for every fresh set of models). */
  createPredictor(level: number, alphabetSize: number): SymbolPredictor;
  /** All levels' models append to one history, in coding order (level-interleaved). Default true. */
  sharedHistory?: boolean;
  /** Total of the quantized frequencies. Default 2^16 (more for alphabets > 2^15). */
  total?: number;
}

/** (d) The `external` entropy model spec for a predictor such as the Transformer prior. */
export function externalPredictorSpec(options: ExternalPredictorSpecOptions): EntropyModelSpec {
  if (options.fingerprint.length !== MODEL_FINGERPRINT_BYTES) {
    throw new InvalidArgumentError(`externalPredictorSpec: fingerprint must be ${MODEL_FINGERPRINT_BYTES} bytes (see modelFingerprint)`);
  }
  const make = (level: number, k: number, history: number[] | undefined) =>
    new ExternalPredictorModel(k, options.createPredictor(level, k), { total: options.total, history });
  return {
    kind: 'external',
    fingerprint: options.fingerprint,
    createModel: (level, k) => make(level, k, undefined),
    createModels: (sizes) => {
      const history: number[] | undefined = options.sharedHistory === false ? undefined : [];
      return sizes.map((k, level) => make(level, k, history));
    },
  };
}
