/**
 * TensorFlow Serving's JSON shapes for model status (`GetModelStatusResponse`)
 * and model metadata (`GetModelMetadataResponse` with a `SignatureDefMap`),
 * as its REST API prints them, so clients and tools written for TF Serving
 * read vqkit's answers unchanged.
 */
import type { ServedModel } from './registry.js';
import type { Signature, TensorSpec } from './signature.js';

/** Lifecycle states of a model version (TF Serving's `ModelVersionStatus.State`). */
export type ModelVersionState = 'AVAILABLE' | 'UNLOADING';

export interface ModelVersionStatusJson {
  version: string;
  state: ModelVersionState;
  status: { error_code: 'OK'; error_message: '' };
}

/** `GET /v1/models/{name}[/versions/{v}]` */
export function modelStatusJson(model: ServedModel, state: ModelVersionState): { model_version_status: ModelVersionStatusJson[] } {
  return { model_version_status: [{ version: String(model.version), state, status: { error_code: 'OK', error_message: '' } }] };
}

interface TensorInfoJson {
  dtype: string;
  tensor_shape: { dim: { size: string; name: string }[]; unknown_rank: false };
  name: string;
}

interface SignatureDefJson {
  inputs: Record<string, TensorInfoJson>;
  outputs: Record<string, TensorInfoJson>;
  method_name: 'tensorflow/serving/predict';
}

export interface ModelMetadataJson {
  model_spec: { name: string; signature_name: string; version: string };
  metadata: { signature_def: { signature_def: Record<string, SignatureDefJson> } };
}

function tensorInfo(name: string, spec: TensorSpec): TensorInfoJson {
  return {
    dtype: spec.dtype,
    // int64 fields are strings in protobuf's JSON mapping.
    tensor_shape: { dim: spec.shape.map((size) => ({ size: String(size), name: '' })), unknown_rank: false },
    name: `${name}:0`,
  };
}

function signatureDef(signature: Signature): SignatureDefJson {
  const map = (specs: Readonly<Record<string, TensorSpec>>): Record<string, TensorInfoJson> =>
    Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, tensorInfo(name, spec)]));
  return { inputs: map(signature.inputs), outputs: map(signature.outputs), method_name: 'tensorflow/serving/predict' };
}

/** `GET /v1/models/{name}[/versions/{v}]/metadata` */
export function modelMetadataJson(model: ServedModel): ModelMetadataJson {
  const defs: Record<string, SignatureDefJson> = {};
  for (const [name, signature] of model.signatures) defs[name] = signatureDef(signature);
  return {
    model_spec: { name: model.name, signature_name: '', version: String(model.version) },
    metadata: { signature_def: { signature_def: defs } },
  };
}
