/**
 * What a served model offers: named signatures in TensorFlow Serving's sense.
 * A signature declares typed inputs and outputs (reported by the metadata
 * endpoint) and runs a batch of instances, each a map from input name to
 * its JSON value.
 */
import type { JsonValue } from './tensors.js';

/** TensorFlow dtypes the vqkit signatures use (names as in TF's `DataType` enum). */
export type TensorDtype = 'DT_STRING' | 'DT_INT32' | 'DT_FLOAT';

/** One named input or output of a signature. */
export interface TensorSpec {
  dtype: TensorDtype;
  /** Shape including the batch dimension; -1 = any size. */
  shape: readonly number[];
  /** Inputs only: may be left out of an instance. Default false. */
  optional?: boolean;
}

/** One instance of a predict request: input name → JSON value. */
export type InstanceInputs = Readonly<Record<string, unknown>>;

/** One instance's outputs: output name → JSON value. */
export type InstanceOutputs = Record<string, JsonValue>;

/** What a running signature may consult besides its inputs. */
export interface RunContext {
  /** Aborts when the request's deadline passes; long jobs (sampling) should stop. */
  signal: AbortSignal;
}

export interface Signature {
  /** Inputs in declaration order. */
  inputs: Readonly<Record<string, TensorSpec>>;
  outputs: Readonly<Record<string, TensorSpec>>;
  /**
   * Runs a batch; returns one output map per instance, in order. Invalid
   * values throw (BadRequestError, PayloadTooLargeError or a library
   * VqkitError, all answered as 4xx).
   */
  run(instances: readonly InstanceInputs[], context: RunContext): Promise<InstanceOutputs[]>;
}

/** TF Serving's name of the signature used when a request names none. */
export const DEFAULT_SIGNATURE = 'serving_default';

/** The inputs a request must give. */
export function requiredInputs(signature: Signature): string[] {
  return Object.entries(signature.inputs)
    .filter(([, spec]) => spec.optional !== true)
    .map(([name]) => name);
}
