/**
 * AdamW with global-norm gradient clipping and a warmup + cosine learning-rate
 * schedule — the standard GPT training recipe. Written out (rather than
 * tf.train.adam) so the learning rate can change every step and the moment
 * estimates can be checkpointed under stable names.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@vqkit/core';

/** Options of {@link AdamW}. */
export interface AdamWOptions {
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.95 (GPT-2/3 practice; steadier than 0.999 for Transformers). */
  beta2?: number;
  /** Default 1e-8. */
  epsilon?: number;
  /** Decoupled weight decay, applied to matrices and embeddings only (not biases or LayerNorm). Default 0.01. */
  weightDecay?: number;
  /** Clip gradients to this global L2 norm; 0 disables. Default 1. */
  clipNorm?: number;
}

interface Slot {
  readonly variable: tf.Variable;
  readonly m: tf.Variable;
  readonly v: tf.Variable;
  readonly decay: boolean;
}

function zerosVariable(like: tf.Tensor): tf.Variable {
  const zeros = tf.zerosLike(like);
  const variable = tf.variable(zeros, false);
  zeros.dispose();
  return variable;
}

export class AdamW {
  private readonly slots = new Map<string, Slot>();
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly weightDecay: number;
  private readonly clipNorm: number;
  /** Updates applied so far (drives the bias correction). */
  iterations = 0;

  constructor(parameters: readonly [string, tf.Variable][], options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.95;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.clipNorm = options.clipNorm ?? 1;
    for (const [name, b] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(b >= 0 && b < 1)) throw new InvalidArgumentError(`${name} must be in [0, 1), got ${b}`);
    }
    if (!(this.weightDecay >= 0)) throw new InvalidArgumentError(`weightDecay must be >= 0, got ${this.weightDecay}`);
    if (!(this.clipNorm >= 0)) throw new InvalidArgumentError(`clipNorm must be >= 0, got ${this.clipNorm}`);
    for (const [name, variable] of parameters) {
      this.slots.set(name, { variable, m: zerosVariable(variable), v: zerosVariable(variable), decay: variable.rank >= 2 });
    }
  }

  /** Applies one update from gradients keyed by parameter name. Returns the pre-clipping global gradient norm (a scalar the caller owns). */
  step(grads: ReadonlyMap<string, tf.Tensor>, learningRate: number): tf.Scalar {
    this.iterations++;
    const t = this.iterations;
    return tf.tidy(() => {
      const squares: tf.Tensor[] = [];
      for (const g of grads.values()) squares.push(tf.sum(tf.square(g)));
      const norm = tf.sqrt(tf.addN(squares)) as tf.Scalar;
      const scale = this.clipNorm > 0 ? tf.minimum(1, tf.div(this.clipNorm, tf.add(norm, 1e-6))) : tf.scalar(1);
      const c1 = 1 - this.beta1 ** t;
      const c2 = 1 - this.beta2 ** t;
      for (const [name, slot] of this.slots) {
        const raw = grads.get(name);
        if (!raw) throw new InvalidArgumentError(`no gradient for parameter '${name}'`);
        const g = tf.mul(raw, scale);
        const m = tf.add(tf.mul(slot.m, this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(slot.v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        slot.m.assign(m);
        slot.v.assign(v);
        let update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), this.epsilon));
        if (slot.decay && this.weightDecay > 0) update = tf.add(update, tf.mul(slot.variable, this.weightDecay));
        slot.variable.assign(tf.sub(slot.variable, tf.mul(update, learningRate)));
      }
      return norm;
    });
  }

  /** Moment estimates under `optimizer.m.<name>` / `optimizer.v.<name>`, for checkpoints. */
  namedState(): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    for (const [name, slot] of this.slots) out.push([`optimizer.m.${name}`, slot.m], [`optimizer.v.${name}`, slot.v]);
    return out;
  }

  /** Restores moments saved by {@link namedState}. */
  loadState(state: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>, iterations: number): void {
    for (const [name, variable] of this.namedState()) {
      const value = state.get(name);
      if (!value) throw new InvalidArgumentError(`optimizer state '${name}' missing from the checkpoint`);
      if (value.shape.join('x') !== variable.shape.join('x')) {
        throw new InvalidArgumentError(`optimizer state '${name}' has shape [${value.shape}], expected [${variable.shape}]`);
      }
      const t = tf.tensor(value.data, variable.shape);
      variable.assign(t);
      t.dispose();
    }
    this.iterations = iterations;
  }

  dispose(): void {
    for (const slot of this.slots.values()) {
      slot.m.dispose();
      slot.v.dispose();
    }
    this.slots.clear();
  }
}

/** Options of {@link learningRateAt}. */
export interface LearningRateSchedule {
  /** Peak learning rate, reached at the end of warmup. */
  peak: number;
  /** Final learning rate at the last step. */
  min: number;
  /** Linear warmup steps from ~0 to peak. */
  warmupSteps: number;
  /** Total training steps. */
  totalSteps: number;
}

/** Linear warmup to `peak`, then cosine decay to `min` at the last step. `step` is 0-based. */
export function learningRateAt(step: number, s: LearningRateSchedule): number {
  if (step < s.warmupSteps) return (s.peak * (step + 1)) / s.warmupSteps;
  const decaySteps = Math.max(1, s.totalSteps - 1 - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / decaySteps);
  return s.min + 0.5 * (s.peak - s.min) * (1 + Math.cos(Math.PI * progress));
}
