import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../engine/backend.js';
import { FileFormatError } from '../errors.js';
import { Conv2d } from './conv.js';
import { deriveSeed } from './init.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from './safetensors.js';
import { loadModule, loadModuleFromBytes, saveModule } from './serialize.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

class TinyNet extends Module {
  readonly conv: Conv2d;
  readonly head: Linear;
  constructor(seed: number, out = 2) {
    super();
    this.conv = this.addModule('conv', new Conv2d({ inChannels: 1, outChannels: 3, kernelSize: 3, seed: deriveSeed(seed, 'conv') }));
    this.head = this.addModule('head', new Linear({ inFeatures: 3, outFeatures: out, seed: deriveSeed(seed, 'head') }));
  }
}

describe('safetensors', () => {
  it('writes the exact reference byte layout', () => {
    const bytes = encodeSafetensors([['a', { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }]]);
    const json = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    expect(Number(view.getBigUint64(0, true))).toBe(padded.length);
    expect(padded.length % 8).toBe(0);
    expect(Buffer.from(bytes.subarray(8, 8 + padded.length)).toString()).toBe(padded);
    expect(Array.from(bytes.subarray(8 + padded.length))).toEqual([0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]);
  });

  it('round-trips F32/I32 tensors, scalars, empty tensors and metadata', () => {
    const tensors = new Map<string, SafetensorsTensor>([
      ['w', { dtype: 'F32', shape: [2, 3], data: new Float32Array([1.5, -2, 3, 4, 5, Math.PI]) }],
      ['step', { dtype: 'I32', shape: [], data: new Int32Array([-7]) }],
      ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
    ]);
    const decoded = decodeSafetensors(encodeSafetensors(tensors, { format: 'pt', note: 'x' }));
    expect(decoded.metadata).toEqual({ format: 'pt', note: 'x' });
    expect([...decoded.tensors.keys()].sort()).toEqual(['empty', 'step', 'w']);
    for (const [name, t] of tensors) {
      const d = decoded.tensors.get(name)!;
      expect(d.dtype).toBe(t.dtype);
      expect(d.shape).toEqual(t.shape);
      expect(Array.from(d.data)).toEqual(Array.from(t.data));
    }
  });

  it('rejects malformed files with FileFormatError naming the source', () => {
    const good = encodeSafetensors([['a', { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }]]);
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, 4), /shorter than/],
      [good.subarray(0, good.length - 1), /truncated/],
      [Buffer.concat([good, Buffer.from([0, 0, 0, 0])]), /trailing/],
      [(() => { const b = Uint8Array.from(good); b[9] = 0x5b; return b; })(), /not (valid JSON|a JSON object)/],
      [(() => { const b = Uint8Array.from(good); new DataView(b.buffer).setBigUint64(0, 1n << 40n, true); return b; })(), /exceeds/],
    ];
    for (const [bytes, pattern] of cases) {
      expect(() => decodeSafetensors(bytes, 'w.safetensors')).toThrow(FileFormatError);
      expect(() => decodeSafetensors(bytes, 'w.safetensors')).toThrow(pattern);
      expect(() => decodeSafetensors(bytes, 'w.safetensors')).toThrow(/^w\.safetensors: /);
    }
    const f64Header = JSON.stringify({ a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } });
    const f64 = Buffer.alloc(8 + f64Header.length + 8);
    f64.writeBigUInt64LE(BigInt(f64Header.length), 0);
    f64.write(f64Header, 8);
    expect(() => decodeSafetensors(f64)).toThrow(/F64; only F32 and I32/);
  });
});

describe('saveModule / loadModule', () => {
  it('round-trips a module through a file; mismatching models give typed errors', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-st-'));
    const file = path.join(dir, 'model.safetensors');
    const a = new TinyNet(1);
    const b = new TinyNet(2);
    saveModule(a, file, { kind: 'tiny' });
    expect(fs.readdirSync(dir)).toEqual(['model.safetensors']);
    expect(loadModule(b, file)).toEqual({ kind: 'tiny' });
    const bVars = new Map(b.namedVariables());
    for (const [name, v] of a.namedVariables()) expect(Array.from(bVars.get(name)!.dataSync()), name).toEqual(Array.from(v.dataSync()));
    const wider = new TinyNet(1, 5);
    expect(() => loadModule(wider, file)).toThrow(FileFormatError);
    expect(() => loadModule(wider, file)).toThrow(/head\.weight.*shape/);
    expect(() => loadModule(a, path.join(dir, 'nope.safetensors'))).toThrow(/nope\.safetensors: cannot read.*ENOENT/);
    const partial = encodeSafetensors([['conv.weight', { dtype: 'F32', shape: [3, 3, 1, 3], data: new Float32Array(27) }]]);
    expect(() => loadModuleFromBytes(a, partial, 'p')).toThrow(/missing 3 weight/);
    [a, b, wider].forEach((m) => m.dispose());
    fs.rmSync(dir, { recursive: true });
  });
});
