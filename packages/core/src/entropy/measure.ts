/**
 * Reports what each entropy model costs on given code tensors: the actual
 * coded payload size and the ideal information content (Σ −log2 p), so model
 * choices are made on measured bits rather than guesses.
 */
import { InvalidArgumentError } from '../errors.js';
import { ContextWalker, codeTensorSize, encodeCodeTensor } from './code-stream.js';
import { fixedLengthStreamBits } from './fixed-length.js';
import type { ProbabilityModel } from './model.js';
import { createLevelModels, type EntropyModelSpec } from './spec.js';

export interface CodeBitsReport {
  /** The name the model was given in the `models` record. */
  name: string;
  kind: EntropyModelSpec['kind'];
  /** Codes measured. */
  codes: number;
  /** Bits of the coded payloads (whole bytes per tensor, as the container stores them). */
  payloadBits: number;
  /** Σ −log2 p(code) under the model (0 overhead; fixed-length: ⌈log2 K⌉ per code). */
  idealBits: number;
  /** payloadBits / codes. */
  bitsPerCode: number;
}

export interface MeasureCodeBitsOptions {
  /** Keep model state across tensors (like a container with `carryModelState`). Default false: fresh models per tensor. */
  carryModelState?: boolean;
}

/**
 * Codes every tensor (row-major, shape [..., levels]) with every model and
 * reports the bits each takes.
 */
export function measureCodeBits(
  tensors: readonly { codes: ArrayLike<number>; shape: readonly number[] }[],
  codebookSizes: readonly number[],
  models: Readonly<Record<string, EntropyModelSpec>>,
  options: MeasureCodeBitsOptions = {},
): CodeBitsReport[] {
  const reports: CodeBitsReport[] = [];
  let codes = 0;
  for (const t of tensors) {
    const size = codeTensorSize(t.shape, codebookSizes.length);
    if (t.codes.length !== size) throw new InvalidArgumentError(`measureCodeBits: ${t.codes.length} codes for shape [${t.shape.join(', ')}]`);
    codes += size;
  }
  for (const [name, spec] of Object.entries(models)) {
    let payloadBits = 0;
    let idealBits = 0;
    if (spec.kind === 'fixed-length') {
      for (const t of tensors) payloadBits += 8 * Math.ceil(fixedLengthStreamBits(t.codes.length, codebookSizes) / 8);
      idealBits = tensors.reduce((n, t) => n + fixedLengthStreamBits(t.codes.length, codebookSizes), 0);
    } else {
      const fresh = (): ProbabilityModel[] => createLevelModels(spec, codebookSizes);
      let coding = fresh();
      let measuring = fresh();
      for (const [index, t] of tensors.entries()) {
        if (index > 0 && !options.carryModelState) {
          coding = fresh();
          measuring = fresh();
        }
        payloadBits += 8 * encodeCodeTensor(t.codes, t.shape, coding).length;
        idealBits += informationBits(t.codes, t.shape, measuring);
      }
    }
    reports.push({ name, kind: spec.kind, codes, payloadBits, idealBits, bitsPerCode: codes === 0 ? 0 : payloadBits / codes });
  }
  return reports;
}

/** Σ −log2 p(code) of one tensor under `models` (which are updated as a coder would). */
function informationBits(codes: ArrayLike<number>, shape: readonly number[], models: readonly ProbabilityModel[]): number {
  const walker = new ContextWalker(shape);
  let bits = 0;
  for (let i = 0; i < codes.length; i++) {
    const ctx = walker.at(i, codes);
    const model = models[ctx.level];
    const table = model.frequencies(ctx);
    bits -= Math.log2(table.frequency(codes[i]) / table.total);
    model.update(codes[i], ctx);
  }
  return bits;
}
