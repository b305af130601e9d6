/** Learning-rate schedule: linear warmup, then cosine decay to a floor. */
import { InvalidArgumentError } from '@vqkit/core';

export interface LearningRateSchedule {
  /** Peak learning rate, reached at the end of warmup. */
  baseLearningRate: number;
  /** Steps of linear warmup from baseLearningRate/warmupSteps. */
  warmupSteps: number;
  /** Total optimizer steps; the cosine reaches its floor here. */
  totalSteps: number;
  /** Floor as a fraction of the base rate. */
  finalRatio: number;
}

export function validateSchedule(s: LearningRateSchedule): void {
  if (!(s.baseLearningRate > 0)) throw new InvalidArgumentError(`learningRate must be > 0, got ${s.baseLearningRate}`);
  if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0) throw new InvalidArgumentError(`warmupSteps must be a non-negative integer, got ${s.warmupSteps}`);
  if (!(s.finalRatio >= 0 && s.finalRatio <= 1)) throw new InvalidArgumentError(`finalLearningRateRatio must be in [0, 1], got ${s.finalRatio}`);
}

/** Learning rate for the update that follows `step` completed steps. */
export function learningRateAt(s: LearningRateSchedule, step: number): number {
  if (step < s.warmupSteps) return (s.baseLearningRate * (step + 1)) / s.warmupSteps;
  const decaySteps = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / decaySteps);
  const floor = s.baseLearningRate * s.finalRatio;
  return floor + (s.baseLearningRate - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
