/**
 * The prior as the container's entropy model (core's `external` kind): the
 * coder walks a code tensor [..., levels] in row-major order — exactly the
 * prior's `flatten` order — and asks, per code, for the distribution of that
 * code given all codes before it. We answer with the prior's next-token
 * probabilities restricted to the level's token range.
 *
 * Bit-exactness: encoder and decoder must see identical floats. Both feed the
 * prior one token per KV-cache step (never a batched prefill, whose floats can
 * differ in the last bits), starting from the same prompt, and slide the
 * context window at the same positions, so they compute the same numbers on
 * the same backend.
 */
import { InvalidArgumentError, externalPredictorSpec, modelFingerprint, moduleToSafetensors, type EntropyModelSpec, type SymbolPredictor } from '@vqkit/core';
import type { GPT } from './gpt/model.js';
import { PriorModel } from './prior-model.js';
import { TokenPredictor } from './sampling.js';

/** Options of {@link priorEntropyModel}. */
export interface PriorEntropyModelOptions {
  /** Condition on this class (0-based); encoder and decoder must agree. Default: unconditional (BOS). */
  classIndex?: number;
  /** Identity of the prior stored in containers. Default: the fingerprint of its weights (safetensors bytes). */
  fingerprint?: Uint8Array;
  /** Total of the quantized frequency tables. Default: core's default for the codebook size. */
  total?: number;
  /**
   * The id of the tokenizer whose codes will be coded. When given, a prior
   * that records another tokenizer is refused (its probabilities would be
   * meaningless for these codes: valid files, but poor compression).
   */
  tokenizerId?: string;
  /** Coding histories kept warm at once (each holds a KV cache); older ones are rebuilt on demand. Default 2. */
  maxLiveHistories?: number;
}

/** An entropy-model spec backed by the prior; `dispose()` frees the KV caches it holds. */
export interface PriorEntropyModel extends EntropyModelSpec {
  dispose(): void;
}

interface HistoryState {
  predictor: TokenPredictor;
  /** History symbols already pushed into the predictor. */
  consumed: number;
}

/**
 * The prior as an `external` entropy model for code tensors [..., levels]
 * (images: levels 1; residual-VQ audio: the prior's vocabulary levels, with
 * the `flatten` pattern).
 */
export function priorEntropyModel(prior: PriorModel | GPT, options: PriorEntropyModelOptions = {}): PriorEntropyModel {
  const gpt = prior instanceof PriorModel ? prior.gpt : prior;
  const recorded = prior instanceof PriorModel ? prior.metadata.tokenizer : undefined;
  if (options.tokenizerId !== undefined && recorded !== undefined && recorded !== options.tokenizerId) {
    throw new InvalidArgumentError(`the prior was trained on codes of tokenizer ${recorded}, not ${options.tokenizerId}; use a prior trained on this tokenizer's codes`);
  }
  const vocab = gpt.config.vocabulary;
  const pattern = prior instanceof PriorModel ? (prior.metadata.audioPattern ?? 'flatten') : 'flatten';
  if (pattern !== 'flatten') {
    throw new InvalidArgumentError("the prior entropy model codes tensors in row-major order, which is the 'flatten' pattern; this prior was trained with 'delay'");
  }
  const K = vocab.codebookSize;
  const L = vocab.levels;
  const maxLive = options.maxLiveHistories ?? 2;
  if (!Number.isInteger(maxLive) || maxLive < 1) throw new InvalidArgumentError(`maxLiveHistories must be a positive integer, got ${maxLive}`);
  // Map iteration order = least recently used first.
  const live = new Map<readonly number[], HistoryState>();

  const stateFor = (history: readonly number[]): HistoryState => {
    let state = live.get(history);
    if (state && state.consumed > history.length) {
      // The history was reset (a new tensor): start over.
      state.predictor.dispose();
      state = undefined;
      live.delete(history);
    }
    if (!state) {
      state = { predictor: new TokenPredictor(gpt, { classIndex: options.classIndex, windowAlign: L }), consumed: 0 };
      if (live.size >= maxLive) {
        const [oldest, evicted] = live.entries().next().value as [readonly number[], HistoryState];
        evicted.predictor.dispose();
        live.delete(oldest);
      }
    } else {
      live.delete(history);
    }
    live.set(history, state);
    for (; state.consumed < history.length; state.consumed++) {
      const level = state.consumed % L;
      const symbol = history[state.consumed]!;
      state.predictor.push(symbol + level * K);
    }
    return state;
  };

  const createPredictor = (level: number, alphabetSize: number): SymbolPredictor => {
    if (alphabetSize !== K) throw new InvalidArgumentError(`level ${level} has ${alphabetSize} codes but the prior was trained on a codebook of ${K}`);
    if (level >= L) throw new InvalidArgumentError(`the code tensor has more levels than the prior's ${L}`);
    return (history, context) => {
      if (context.level !== history.length % L) {
        throw new InvalidArgumentError(`level ${context.level} coded at history position ${history.length}; the prior expects levels interleaved frame by frame`);
      }
      const probs = stateFor(history).predictor.probabilities({ start: level * K, end: (level + 1) * K });
      return probs.subarray(level * K, (level + 1) * K);
    };
  };

  const spec = externalPredictorSpec({
    fingerprint: options.fingerprint ?? modelFingerprint(moduleToSafetensors(gpt)),
    createPredictor,
    sharedHistory: true,
    total: options.total,
  });
  return {
    ...spec,
    createModels: (sizes: readonly number[]) => {
      if (sizes.length !== L) throw new InvalidArgumentError(`the code tensor has ${sizes.length} levels but the prior models ${L}`);
      return spec.createModels!(sizes);
    },
    dispose: () => {
      for (const state of live.values()) state.predictor.dispose();
      live.clear();
    },
  };
}
