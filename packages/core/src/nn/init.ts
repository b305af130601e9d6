/**
 * Seeded parameter initialisation. Every layer takes a `seed`; composite
 * modules derive their children's seeds from their own seed and the child's
 * name, so a model's initial weights depend only on (config, seed) and not on
 * construction order or on how many random numbers other code drew.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors.js';

/** Weight initialisation scheme. */
export type InitScheme =
  /** He/Kaiming normal, std = sqrt(2 / fanIn): for layers followed by ReLU. */
  | 'he'
  /** Glorot/Xavier uniform, limit = sqrt(6 / (fanIn + fanOut)): for linear outputs. */
  | 'glorot'
  /** All zeros (e.g. the last layer of a residual branch, or tests). */
  | 'zeros';

/** Options every parameterised layer accepts. */
export interface LayerInitOptions {
  /** Weight initialisation. Default `'he'` for conv layers, `'glorot'` for `Linear`. */
  init?: InitScheme;
  /** Seed of the weight initialisation. Default 0. */
  seed?: number;
}

/** A 32-bit seed for child `name` of a module seeded with `seed` (FNV-1a over both). */
export function deriveSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  h = Math.imul(h, 0x01000193) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A freshly initialised weight tensor of `shape` (caller owns it). */
export function initWeight(shape: number[], fanIn: number, fanOut: number, scheme: InitScheme, seed: number): tf.Tensor {
  if (!Number.isInteger(seed)) throw new InvalidArgumentError(`seed must be an integer, got ${seed}`);
  switch (scheme) {
    case 'he':
      return tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed);
    case 'glorot': {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      return tf.randomUniform(shape, -limit, limit, 'float32', seed);
    }
    case 'zeros':
      return tf.zeros(shape);
    default:
      throw new InvalidArgumentError(`unknown init scheme '${String(scheme)}'; use he, glorot or zeros`);
  }
}

/** Throws unless `value` is a positive integer. */
export function checkPositiveInt(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
}
