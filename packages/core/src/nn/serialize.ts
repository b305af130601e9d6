/**
 * Module ↔ safetensors: a module's variables are stored under their dotted
 * names (`encoder.res0.conv1.weight`), so files are readable by any
 * safetensors tool and survive refactors that keep names stable.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { Module } from './module.js';
import { decodeSafetensors, encodeSafetensorsChunks, type SafetensorsTensor } from './safetensors.js';

/** Snapshot of a module's variables as plain typed arrays (synchronous read-back). */
export function moduleTensors(module: Module): [string, SafetensorsTensor][] {
  return module.namedVariables().map(([name, variable]) => {
    if (variable.dtype === 'float32') return [name, { dtype: 'F32', shape: [...variable.shape], data: variable.dataSync() as Float32Array }];
    if (variable.dtype === 'int32') return [name, { dtype: 'I32', shape: [...variable.shape], data: variable.dataSync() as Int32Array }];
    throw new InvalidArgumentError(`variable '${name}' has dtype ${variable.dtype}; only float32 and int32 can be saved`);
  });
}

/** The module's weights as safetensors bytes. */
export function moduleToSafetensors(module: Module, metadata?: Record<string, string>): Uint8Array {
  const chunks = encodeSafetensorsChunks(moduleTensors(module), metadata);
  return Buffer.concat(chunks);
}

/** Writes the module's weights to `filePath` atomically (a crash leaves the old file intact). */
export function saveModule(module: Module, filePath: string, metadata?: Record<string, string>): void {
  writeFileAtomic(filePath, encodeSafetensorsChunks(moduleTensors(module), metadata));
}

/**
 * Loads weights from safetensors bytes into the module. Every module variable
 * must be present with the same shape; extra tensors in the file are an error
 * too (they signal a model/config mismatch). Returns the file's metadata.
 */
export function loadModuleFromBytes(module: Module, bytes: Uint8Array, source?: string): Record<string, string> {
  const file = decodeSafetensors(bytes, source);
  const expected = new Set(module.namedVariables().map(([name]) => name));
  const extra = [...file.tensors.keys()].filter((name) => !expected.has(name));
  const missing = [...expected].filter((name) => !file.tensors.has(name));
  if (missing.length > 0 || extra.length > 0) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`missing ${missing.length} weight(s) (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''})`);
    if (extra.length > 0) parts.push(`${extra.length} unexpected weight(s) (${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', …' : ''})`);
    throw new FileFormatError(`weights do not match the model: ${parts.join('; ')}; was the file saved from a different configuration?`, source);
  }
  const state = new Map<string, tf.Tensor>();
  try {
    for (const [name, t] of file.tensors) state.set(name, tf.tensor(t.data, t.shape, t.dtype === 'F32' ? 'float32' : 'int32'));
    module.loadState(state);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new FileFormatError(err.message, source, { cause: err });
    throw err;
  } finally {
    for (const t of state.values()) t.dispose();
  }
  return file.metadata;
}

/** Loads weights from a safetensors file into the module; see {@link loadModuleFromBytes}. */
export function loadModule(module: Module, filePath: string): Record<string, string> {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(filePath);
  } catch (err) {
    throw new FileFormatError(`cannot read weights file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, filePath, { cause: err });
  }
  return loadModuleFromBytes(module, bytes, filePath);
}
