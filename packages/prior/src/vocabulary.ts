/**
 * The prior's token-id layout. Code tokens come first so that, for a
 * single-level tokenizer, a token id *is* the codebook index (no offset to
 * forget when handing codes to or from a tokenizer); special tokens follow:
 *
 *   [0, codeTokens)                      code tokens (level l of a residual VQ
 *                                        uses ids [l*codebookSize, (l+1)*codebookSize))
 *   codeTokens                           BOS (start of an unconditional sequence)
 *   codeTokens + 1                       PAD (only if `padToken`; fills the gaps of
 *                                        the audio delay pattern)
 *   firstClassId .. firstClassId + C-1   class / condition tokens (replace BOS)
 *
 * Giving each residual level its own id range is the single-embedding-table
 * equivalent of per-level embedding tables: the model always knows which
 * level a token belongs to, and sampling can be restricted to the right range.
 */
import { InvalidArgumentError } from '@vqkit/core';

/** Options of {@link createVocabulary}. */
export interface VocabularyOptions {
  /** Entries per codebook (per level for residual VQ). */
  codebookSize: number;
  /** Residual-VQ levels flattened into the sequence. Default 1. */
  levels?: number;
  /** Number of class / condition tokens. Default 0. */
  numClasses?: number;
  /** Reserve a PAD token (needed by the audio `delay` pattern). Default false. */
  padToken?: boolean;
}

/** A resolved token-id layout (plain data, JSON-serialisable). */
export interface Vocabulary {
  /** Entries per codebook (per level). */
  readonly codebookSize: number;
  /** Residual levels; code tokens are `levels * codebookSize`. */
  readonly levels: number;
  /** Number of code tokens (ids `[0, codeTokens)`). */
  readonly codeTokens: number;
  /** The BOS token id. */
  readonly bosId: number;
  /** The PAD token id, or -1 when the vocabulary has none. */
  readonly padId: number;
  /** Number of class tokens. */
  readonly numClasses: number;
  /** Id of class 0; class `c` is `firstClassId + c`. */
  readonly firstClassId: number;
  /** Total number of token ids (the embedding table's rows). */
  readonly vocabSize: number;
}

function checkInt(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got ${value}`);
}

/** Builds the token-id layout for a codebook (see the module comment). */
export function createVocabulary(options: VocabularyOptions): Vocabulary {
  const levels = options.levels ?? 1;
  const numClasses = options.numClasses ?? 0;
  checkInt('codebookSize', options.codebookSize, 1);
  checkInt('levels', levels, 1);
  checkInt('numClasses', numClasses, 0);
  const codeTokens = options.codebookSize * levels;
  const bosId = codeTokens;
  const padId = options.padToken ? codeTokens + 1 : -1;
  const firstClassId = codeTokens + (options.padToken ? 2 : 1);
  return {
    codebookSize: options.codebookSize,
    levels,
    codeTokens,
    bosId,
    padId,
    numClasses,
    firstClassId,
    vocabSize: firstClassId + numClasses,
  };
}

/** The token id of class `classIndex` (0-based). */
export function classTokenId(vocabulary: Vocabulary, classIndex: number): number {
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= vocabulary.numClasses) {
    throw new InvalidArgumentError(
      vocabulary.numClasses === 0
        ? `class ${classIndex} requested but the prior has no class tokens (train it with numClasses > 0)`
        : `class index must be an integer in [0, ${vocabulary.numClasses}), got ${classIndex}`,
    );
  }
  return vocabulary.firstClassId + classIndex;
}

/** Validates a vocabulary read from a file (all fields consistent with {@link createVocabulary}). */
export function checkVocabulary(value: Vocabulary): Vocabulary {
  const rebuilt = createVocabulary({
    codebookSize: value.codebookSize,
    levels: value.levels,
    numClasses: value.numClasses,
    padToken: value.padId >= 0,
  });
  for (const key of Object.keys(rebuilt) as (keyof Vocabulary)[]) {
    if (rebuilt[key] !== value[key]) {
      throw new InvalidArgumentError(`inconsistent vocabulary: ${key} is ${value[key]} but the layout implies ${rebuilt[key]}`);
    }
  }
  return rebuilt;
}
