import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { DEFAULT_OPSET, OnnxGraphBuilder, onnxFloat, readOnnxModel } from './graph.js';

describe('OnnxGraphBuilder', () => {
  function affineArgMin(): Uint8Array {
    // y = x·W + b, then LeakyRelu (a float attribute) and ArgMin over the last axis.
    const g = new OnnxGraphBuilder('affine');
    const x = g.input('x', 'float32', ['batch', 3]);
    const w = g.initializer('w', Float32Array.from([1, -1, 2, 0.5, 3, -2]), [3, 2]);
    const b = g.initializer('b', Float32Array.from([0.25, -0.5]), [2]);
    const y = g.node('LeakyRelu', [g.node('Add', [g.node('MatMul', [x, w]), b])], { alpha: onnxFloat(0.1) });
    g.output(y, 'y', 'float32', ['batch', 2]);
    g.output(g.node('ArgMin', [y], { axis: 1, keepdims: 0 }), 'index', 'int64', ['batch']);
    return g.toBytes({ metadata: { what: 'test' } });
  }

  it('writes a model ONNX Runtime runs, with dynamic batch, metadata and the opset stamped', async () => {
    const bytes = affineArgMin();
    const model = readOnnxModel(bytes);
    expect(Number(model.opsetImport[0]!.version)).toBe(DEFAULT_OPSET);
    expect(model.metadataProps).toEqual([expect.objectContaining({ key: 'what', value: 'test' })]);

    const session = await ort.InferenceSession.create(bytes);
    const x = Float32Array.from([1, 2, 3, -1, 0, 4, 0.5, 0.5, 0.5]);
    const out = await session.run({ x: new ort.Tensor('float32', x, [3, 3]) });
    const W = [1, -1, 2, 0.5, 3, -2];
    for (let r = 0; r < 3; r++) {
      const pre = [0, 1].map((c) => x[r * 3]! * W[c]! + x[r * 3 + 1]! * W[2 + c]! + x[r * 3 + 2]! * W[4 + c]! + [0.25, -0.5][c]!);
      const expected = pre.map((v) => (v < 0 ? 0.1 * v : v));
      expect(out.y!.data[r * 2]).toBeCloseTo(expected[0]!, 5);
      expect(out.y!.data[r * 2 + 1]).toBeCloseTo(expected[1]!, 5);
      expect(Number(out.index!.data[r])).toBe(expected[0]! <= expected[1]! ? 0 : 1);
    }
    expect(out.y!.dims).toEqual([3, 2]);
  });

  it('rejects undefined inputs, duplicate names and unwrapped float attributes', () => {
    const g = new OnnxGraphBuilder('bad');
    const x = g.input('x', 'float32', [2]);
    expect(() => g.node('Relu', ['nope'])).toThrow(/nothing defines/);
    expect(() => g.input('x', 'float32', [2])).toThrow(/already taken/);
    expect(() => g.node('LeakyRelu', [x], { alpha: 0.1 })).toThrow(InvalidArgumentError);
    expect(() => g.initializer('w', new Float32Array(3), [2, 2])).toThrow(/do not fill/);
  });
});
