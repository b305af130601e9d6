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

/** Predicts the distribution of the next symbol from the symbols coded so far (at this level). */
export type SymbolPredictor = (history: readonly number[], context: CodingContext) => ArrayLike<number>;

export interface ExternalPredictorModelOptions {
  /** Total of the quantized frequencies. Default 2^16 (more for alphabets > 2^15). */
  total?: number;
}

export class ExternalPredictorModel implements ProbabilityModel {
  readonly alphabetSize: number;
  private readonly predictor: SymbolPredictor;
  private readonly total: number;
  private readonly history: number[] = [];
  private readonly scratch: Uint32Array;

  constructor(alphabetSize: number, predictor: SymbolPredictor, options: ExternalPredictorModelOptions = {}) {
    if (!Number.isInteger(alphabetSize) || alphabetSize < 1 || alphabetSize > MAX_ALPHABET_SIZE) {
      throw new InvalidArgumentError(`ExternalPredictorModel: alphabet size ${alphabetSize} outside [1, ${MAX_ALPHABET_SIZE}]`);
    }
    this.alphabetSize = alphabetSize;
    this.predictor = predictor;
    this.total = options.total ?? defaultFrequencyTotal(alphabetSize);
    this.scratch = new Uint32Array(alphabetSize);
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
