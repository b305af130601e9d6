/**
 * Gradient plumbing tfjs lacks: a stop-gradient (torch's `.detach()`) and the
 * straight-through estimators quantizers train with. Built on `tf.customGrad`
 * because tfjs has no `stopGradient` op.
 */
import * as tf from '@tensorflow/tfjs';

type UnaryGradFunc = (x: tf.Tensor) => tf.Tensor;
type BinaryGradFunc = (x: tf.Tensor, q: tf.Tensor) => tf.Tensor;

const stopGradientOp = tf.customGrad(((x: tf.Tensor) => ({
  value: x.clone(),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as UnaryGradFunc;

/** Identity in the forward pass, zero gradient in the backward pass (`sg(x)` / `x.detach()`). */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return stopGradientOp(x) as T;
}

const straightThroughOp = tf.customGrad(((x: tf.Tensor, q: tf.Tensor) => ({
  value: q.clone(),
  gradFunc: (dy: tf.Tensor) => [dy, tf.zerosLike(q)],
})) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as BinaryGradFunc;

/**
 * Straight-through estimator: returns exactly `q` (so decoding the codes
 * reproduces it bit for bit) but passes the incoming gradient to `x`
 * unchanged and none to `q` — the semantics of `x + sg(q − x)` without its
 * float rounding. `x` and `q` must have the same shape.
 */
export function straightThrough<T extends tf.Tensor>(x: T, q: tf.Tensor): T {
  return straightThroughOp(x, q) as T;
}

const roundStraightThroughOp = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.round(x),
  gradFunc: (dy: tf.Tensor) => dy,
})) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as UnaryGradFunc;

/** `round(x)` forward, identity gradient backward (FSQ's rounding). */
export function roundStraightThrough<T extends tf.Tensor>(x: T): T {
  return roundStraightThroughOp(x) as T;
}

/**
 * Runs `fn` off the gradient tape: its result has no recorded inputs, so a
 * gradient computation never backpropagates into (or through) it. For
 * non-differentiable by-products of the forward pass such as nearest-code
 * indices, whose zero gradients would otherwise cost a backward GEMM (and
 * trip tfjs's dtype check for int32 gradients).
 */
export function withoutGradient<T extends tf.Tensor>(fn: () => T): T {
  const op = tf.customGrad((() => ({ value: fn(), gradFunc: () => [] })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op() as T;
}
