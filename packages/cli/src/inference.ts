/**
 * Loading an image or audio tokenizer for inference commands (encode, decode,
 * compress, serve): picks ONNX Runtime or TF.js as `--runtime` /
 * `VQKIT_RUNTIME` asks (default auto: ONNX Runtime when the model directory
 * holds a current `vqkit export onnx` export) and prints which one runs, the
 * way `startEngine` prints the compute backend.
 */
import { InvalidArgumentError } from '@vqkit/core';
import { AudioTokenizer } from '@vqkit/audio';
import { ImageTokenizer, type InferenceRuntime } from '@vqkit/image';

const RUNTIMES: readonly InferenceRuntime[] = ['auto', 'onnx', 'tfjs'];

/** The runtime a command should use: the flag, else VQKIT_RUNTIME, else 'auto'. */
export function resolveRuntime(flag?: string): InferenceRuntime {
  const value = flag ?? process.env.VQKIT_RUNTIME ?? 'auto';
  if (!RUNTIMES.includes(value as InferenceRuntime)) throw new InvalidArgumentError(`runtime must be one of ${RUNTIMES.join(', ')}, got ${JSON.stringify(value)}`);
  return value as InferenceRuntime;
}

/** Loads a tokenizer directory with the requested runtime and reports the choice on stderr. */
export async function loadImageTokenizer(dir: string, runtimeFlag?: string): Promise<ImageTokenizer> {
  const tokenizer = await ImageTokenizer.load(dir, { runtime: resolveRuntime(runtimeFlag) });
  console.error(`vqkit: inference ${tokenizer.runtimeDescription}`);
  return tokenizer;
}

/** Loads an audio tokenizer directory with the requested runtime and reports the choice on stderr. */
export async function loadAudioTokenizer(dir: string, runtimeFlag?: string): Promise<AudioTokenizer> {
  const tokenizer = await AudioTokenizer.load(dir, { runtime: resolveRuntime(runtimeFlag) });
  console.error(`vqkit: inference ${tokenizer.runtimeDescription}`);
  return tokenizer;
}
