/**
 * TensorFlow Serving's JSON encoding of tensor values, for the few kinds the
 * vqkit signatures use: binary strings (plain base64 or `{"b64": …}`),
 * integer grids as nested lists, and scalars.
 */
import { BadRequestError } from './errors.js';

/** A JSON value as `JSON.parse` returns it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** TF Serving's wrapper for binary values. */
export type B64Value = { b64: string };

/** True for `{"b64": "<string>"}` (exactly that key): a binary value, not a map of named inputs. */
export function isB64Value(value: unknown): value is B64Value {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'b64' && typeof (value as B64Value).b64 === 'string';
}

// Standard and URL-safe alphabets (TF Serving accepts both), optional padding.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Bytes of a binary input given as a base64 string or `{"b64": "<base64>"}`.
 * Whitespace (line-wrapped base64) is ignored; anything else outside the
 * base64 alphabets is a 400 — Node's decoder would silently skip it.
 */
export function decodeBinary(value: unknown, what: string): Buffer {
  const text = isB64Value(value) ? value.b64 : value;
  if (typeof text !== 'string') throw new BadRequestError(`${what} must be a base64 string or {"b64": "<base64>"}, got ${describeJson(value)}`);
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0) throw new BadRequestError(`${what} is empty`);
  if (!BASE64.test(compact) || compact.length % 4 === 1) throw new BadRequestError(`${what} is not valid base64`);
  return Buffer.from(compact, compact.includes('-') || compact.includes('_') ? 'base64url' : 'base64');
}

/** A binary output in TF Serving's `{"b64": …}` form. */
export function encodeBinary(bytes: Uint8Array): B64Value {
  return { b64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
}

/** `data` (row-major over `shape`) as nested JSON lists. */
export function toNestedList(data: ArrayLike<number>, shape: readonly number[]): JsonValue {
  const build = (axis: number, offset: number): JsonValue => {
    const n = shape[axis]!;
    if (axis === shape.length - 1) return Array.from({ length: n }, (_, i) => data[offset + i]!);
    const stride = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: n }, (_, i) => build(axis + 1, offset + i * stride));
  };
  return shape.length === 0 ? data[0]! : build(0, 0);
}

/**
 * A rectangular nested list of integers → flat row-major data and its shape.
 * Ragged lists, non-integers and more than `maxElements` values are 400s
 * (checked while walking, before anything large is allocated).
 */
export function fromNestedIntList(value: unknown, what: string, maxElements: number): { data: Int32Array; shape: number[] } {
  const shape: number[] = [];
  for (let v: unknown = value; Array.isArray(v); v = v[0]) {
    if (v.length === 0) throw new BadRequestError(`${what} has an empty dimension`);
    shape.push(v.length);
  }
  if (shape.length === 0) throw new BadRequestError(`${what} must be a nested list of integers, got ${describeJson(value)}`);
  const total = shape.reduce((a, b) => a * b, 1);
  if (total > maxElements) throw new BadRequestError(`${what} has ${total} values; at most ${maxElements} are accepted`);
  const data = new Int32Array(total);
  let k = 0;
  const walk = (v: unknown, axis: number): void => {
    if (axis === shape.length) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new BadRequestError(`${what} must hold 32-bit integers, found ${describeJson(v)}`);
      data[k++] = v;
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[axis]) throw new BadRequestError(`${what} is not a rectangular [${shape.join(', ')}] list`);
    for (const item of v) walk(item, axis + 1);
  };
  walk(value, 0);
  return { data, shape };
}

/** An optional number input (absent or null → undefined). */
export function optionalNumber(value: unknown, what: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new BadRequestError(`${what} must be a number, got ${describeJson(value)}`);
  return value;
}

/** An optional integer input (absent or null → undefined). */
export function optionalInteger(value: unknown, what: string): number | undefined {
  const n = optionalNumber(value, what);
  if (n !== undefined && !Number.isInteger(n)) throw new BadRequestError(`${what} must be an integer, got ${n}`);
  return n;
}

/** Short description of a JSON value for error messages (never echoes large payloads). */
export function describeJson(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return value.length > 32 ? `a string of ${value.length} characters` : JSON.stringify(value);
  return String(value);
}
