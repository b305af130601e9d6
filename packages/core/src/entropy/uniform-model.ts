/** Model (a) through the coder: every symbol equally likely, log2(K) bits each, no state. */
import { InvalidArgumentError } from '../errors.js';
import { MAX_ALPHABET_SIZE, type CodingContext, type FrequencyTable, type ProbabilityModel } from './model.js';

export class UniformModel implements ProbabilityModel, FrequencyTable {
  readonly alphabetSize: number;
  readonly total: number;

  constructor(alphabetSize: number) {
    if (!Number.isInteger(alphabetSize) || alphabetSize < 1 || alphabetSize > MAX_ALPHABET_SIZE) {
      throw new InvalidArgumentError(`UniformModel: alphabet size ${alphabetSize} outside [1, ${MAX_ALPHABET_SIZE}]`);
    }
    this.alphabetSize = alphabetSize;
    this.total = alphabetSize;
  }

  frequencies(_context: CodingContext): FrequencyTable {
    return this;
  }

  update(_symbol: number, _context: CodingContext): void {}

  reset(): void {}

  lowerBound(symbol: number): number {
    return symbol;
  }

  frequency(_symbol: number): number {
    return 1;
  }

  symbolAt(target: number): number {
    return target;
  }
}
