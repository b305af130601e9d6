/**
 * TensorFlow Serving's predict request and response formats
 * (https://www.tensorflow.org/tfx/serving/api_rest#predict_api):
 *
 * - row format: `{"instances": [...]}` — a list with one entry per instance,
 *   each an object of named inputs, or the bare value when the signature
 *   has a single (required) input; answered with `{"predictions": [...]}`;
 * - columnar format: `{"inputs": {...}}` — each named input listed over the
 *   batch (a non-list value applies to every instance), or a bare value/list
 *   for a single-input signature; answered with `{"outputs": {...}}`.
 *
 * When a signature has a single output, its name is omitted in the response,
 * as TF Serving does.
 */
import { BadRequestError, PayloadTooLargeError } from './errors.js';
import { requiredInputs, type InstanceInputs, type InstanceOutputs, type Signature } from './signature.js';
import { describeJson, isB64Value, type JsonValue } from './tensors.js';

export type RequestFormat = 'row' | 'columnar';

export interface ParsedPredictRequest {
  /** `signature_name` as sent, or undefined. */
  signatureName: string | undefined;
  format: RequestFormat;
  /** The raw `instances` or `inputs` value (interpreted once the signature is known). */
  payload: unknown;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the envelope of a predict body: an object with `instances` xor `inputs`, and an optional string `signature_name`. */
export function parsePredictBody(body: unknown): ParsedPredictRequest {
  if (!isPlainObject(body)) throw new BadRequestError(`the request body must be a JSON object, got ${describeJson(body)}`);
  const signatureName = body.signature_name;
  if (signatureName !== undefined && typeof signatureName !== 'string') throw new BadRequestError('signature_name must be a string');
  const hasInstances = body.instances !== undefined;
  const hasInputs = body.inputs !== undefined;
  if (hasInstances === hasInputs) {
    throw new BadRequestError(hasInstances ? 'a request can have either "instances" or "inputs", not both' : 'missing "instances" (row format) or "inputs" (columnar format)');
  }
  const unknown = Object.keys(body).filter((k) => k !== 'signature_name' && k !== 'instances' && k !== 'inputs');
  if (unknown.length > 0) throw new BadRequestError(`unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')} in the request`);
  return { signatureName: signatureName === '' ? undefined : signatureName, format: hasInstances ? 'row' : 'columnar', payload: hasInstances ? body.instances : body.inputs };
}

function checkNames(named: Record<string, unknown>, signature: Signature, where: string): void {
  const known = Object.keys(signature.inputs);
  for (const name of Object.keys(named)) {
    if (!known.includes(name)) throw new BadRequestError(`${where}: unknown input "${name}"; this signature takes ${known.map((k) => `"${k}"`).join(', ')}`);
  }
  for (const name of requiredInputs(signature)) {
    if (named[name] === undefined) throw new BadRequestError(`${where}: missing input "${name}"`);
  }
}

/** The single input bare values stand for, or undefined when the signature needs named inputs. */
function soleInput(signature: Signature): string | undefined {
  const required = requiredInputs(signature);
  return required.length === 1 ? required[0] : undefined;
}

function namedOrSole(value: unknown, signature: Signature, where: string): Record<string, unknown> {
  if (isPlainObject(value) && !isB64Value(value)) return value;
  const sole = soleInput(signature);
  if (sole === undefined) {
    throw new BadRequestError(`${where} must be an object of named inputs (${Object.keys(signature.inputs).map((k) => `"${k}"`).join(', ')}), got ${describeJson(value)}`);
  }
  return { [sole]: value };
}

/**
 * The request's instances for `signature`, validated for shape (names,
 * presence, batch sizes); the values themselves are checked by the signature.
 */
export function toInstances(request: ParsedPredictRequest, signature: Signature, maxBatch: number): InstanceInputs[] {
  let instances: InstanceInputs[];
  if (request.format === 'row') {
    const list = request.payload;
    if (!Array.isArray(list)) throw new BadRequestError(`"instances" must be a list, got ${describeJson(list)}`);
    checkBatch(list.length, maxBatch);
    instances = list.map((item, i) => {
      const named = namedOrSole(item, signature, `instances[${i}]`);
      checkNames(named, signature, `instances[${i}]`);
      return named;
    });
  } else {
    const columns = namedOrSole(request.payload, signature, '"inputs"');
    checkNames(columns, signature, '"inputs"');
    let batch: number | undefined;
    for (const [name, value] of Object.entries(columns)) {
      if (!Array.isArray(value)) continue;
      if (batch !== undefined && value.length !== batch) throw new BadRequestError(`"inputs": "${name}" lists ${value.length} values but another input lists ${batch}`);
      batch = value.length;
    }
    const n = batch ?? 1;
    checkBatch(n, maxBatch);
    instances = Array.from({ length: n }, (_, i) => {
      const row: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(columns)) row[name] = Array.isArray(value) ? value[i] : value;
      return row;
    });
  }
  return instances;
}

function checkBatch(n: number, maxBatch: number): void {
  if (n === 0) throw new BadRequestError('the request has no instances');
  if (n > maxBatch) throw new PayloadTooLargeError(`the request has ${n} instances; at most ${maxBatch} are accepted per request`);
}

/** The response body for `outputs` in the request's format. */
export function formatPredictResponse(format: RequestFormat, signature: Signature, outputs: readonly InstanceOutputs[]): Record<string, JsonValue> {
  const names = Object.keys(signature.outputs);
  const single = names.length === 1 ? names[0]! : undefined;
  if (format === 'row') {
    return { predictions: outputs.map((o) => (single !== undefined ? o[single]! : o)) };
  }
  if (single !== undefined) return { outputs: outputs.map((o) => o[single]!) };
  const columns: Record<string, JsonValue> = {};
  for (const name of names) columns[name] = outputs.map((o) => o[name]!);
  return { outputs: columns };
}
