/** Pieces the image and audio signatures share. */
import { randomInt } from 'node:crypto';
import type { PriorModel } from '@vqkit/prior';
import { BadRequestError } from './errors.js';
import type { InstanceInputs, InstanceOutputs, RunContext, TensorSpec } from './signature.js';
import { optionalInteger, optionalNumber } from './tensors.js';

export const STRING_BATCH: TensorSpec = { dtype: 'DT_STRING', shape: [-1] };
export const INT_BATCH: TensorSpec = { dtype: 'DT_INT32', shape: [-1] };
export const FLOAT_BATCH: TensorSpec = { dtype: 'DT_FLOAT', shape: [-1] };

/** The sampling inputs every `generate` signature takes. */
export const SAMPLING_INPUTS: Readonly<Record<string, TensorSpec>> = {
  class: { ...INT_BATCH, optional: true },
  temperature: { ...FLOAT_BATCH, optional: true },
  top_k: { ...INT_BATCH, optional: true },
  top_p: { ...FLOAT_BATCH, optional: true },
  seed: { ...INT_BATCH, optional: true },
};

/** Runs `fn` over the instances one after another, stopping when the request is cancelled. */
export async function eachInstance(
  instances: readonly InstanceInputs[],
  context: RunContext,
  fn: (instance: InstanceInputs, where: string) => Promise<InstanceOutputs>,
): Promise<InstanceOutputs[]> {
  const out: InstanceOutputs[] = [];
  for (let i = 0; i < instances.length; i++) {
    if (context.signal.aborted) throw context.signal.reason;
    out.push(await fn(instances[i]!, `instance ${i}`));
  }
  return out;
}

/** A class given by index or by name (absent or null: unconditional). */
function classOf(value: unknown, classNames: readonly string[], what: string): number | undefined {
  if (typeof value !== 'string') return optionalInteger(value, what);
  const index = classNames.indexOf(value);
  if (index < 0) throw new BadRequestError(`${what}: unknown class ${JSON.stringify(value)}; the prior knows ${classNames.length > 0 ? classNames.join(', ') : 'no class names'}`);
  return index;
}

/** Bytes → base64 text. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Sampling options of one `generate` instance. */
export interface InstanceSampling {
  classIndex: number | undefined;
  temperature: number | undefined;
  topK: number | undefined;
  topP: number | undefined;
  /** The request's seed, or a fresh random one (returned so the sample can be reproduced). */
  seed: number;
}

/** Reads `class`, `temperature`, `top_k`, `top_p` and `seed` (400 on wrong types; the sampler checks ranges). */
export function samplingOptionsOf(instance: InstanceInputs, prior: PriorModel, where: string): InstanceSampling {
  return {
    classIndex: classOf(instance.class, prior.metadata.classNames ?? [], `${where}: class`),
    temperature: optionalNumber(instance.temperature, `${where}: temperature`),
    topK: optionalInteger(instance.top_k, `${where}: top_k`),
    topP: optionalNumber(instance.top_p, `${where}: top_p`),
    seed: optionalInteger(instance.seed, `${where}: seed`) ?? randomInt(2 ** 31),
  };
}
