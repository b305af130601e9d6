import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../engine/backend.js';
import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { deriveSeed } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { latestCheckpoint, listCheckpoints, loadCheckpoint, saveCheckpoint } from './checkpoint.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

class Mlp extends Module {
  readonly l1: Linear;
  readonly l2: Linear;
  readonly counter: tf.Variable;
  constructor(seed: number) {
    super();
    this.l1 = this.addModule('l1', new Linear({ inFeatures: 3, outFeatures: 8, seed: deriveSeed(seed, 'l1') }));
    this.l2 = this.addModule('l2', new Linear({ inFeatures: 8, outFeatures: 1, seed: deriveSeed(seed, 'l2') }));
    // A non-trainable buffer, like an EMA codebook: must be checkpointed but has no optimizer slots.
    this.counter = this.addVariable('counter', tf.zeros([2]), false);
  }
  loss(x: tf.Tensor, y: tf.Tensor): tf.Scalar {
    return tf.losses.meanSquaredError(y, this.l2.forward(tf.relu(this.l1.forward(x))));
  }
}

const x = () => tf.tensor2d([[0, 1, 2], [1, 0, -1], [2, 2, 0], [-1, 0.5, 1]]);
const y = () => tf.tensor2d([[1], [0], [2], [-1]]);

function train(model: Mlp, opt: tf.Optimizer, steps: number): void {
  const xs = x();
  const ys = y();
  for (let i = 0; i < steps; i++) {
    opt.minimize(() => model.loss(xs, ys), false, model.trainableVariables());
    model.counter.assign(tf.add(model.counter, 1));
  }
  tf.dispose([xs, ys]);
}

const roots: string[] = [];
function tempRoot(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-ckpt-'));
  roots.push(dir);
  return dir;
}
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

describe('checkpoints', () => {
  it('resuming from a checkpoint reproduces an uninterrupted run (weights, Adam moments, iteration counter)', async () => {
    const root = tempRoot();
    const straight = new Mlp(1);
    const straightOpt = tf.train.adam(0.01);
    train(straight, straightOpt, 10);

    const first = new Mlp(1);
    const firstOpt = tf.train.adam(0.01);
    train(first, firstOpt, 4);
    await saveCheckpoint({ root, step: 4, model: first, optimizer: firstOpt, trainerState: { step: 4, note: 'x' }, extraFiles: { 'config.json': '{"a":1}' } });

    const resumed = new Mlp(99); // different init: everything must come from the checkpoint
    const resumedOpt = tf.train.adam(0.01);
    const info = latestCheckpoint(root)!;
    expect(info.step).toBe(4);
    const loaded = await loadCheckpoint<{ step: number; note: string }>(info.path, { model: resumed, optimizer: resumedOpt });
    expect(loaded.trainerState).toEqual({ step: 4, note: 'x' });
    expect(loaded.readExtraFile('config.json').toString()).toBe('{"a":1}');
    expect(resumedOpt.iterations).toBe(4);
    const [, ...savedSlots] = await firstOpt.getWeights();
    const [, ...restoredSlots] = await resumedOpt.getWeights();
    expect(restoredSlots.length).toBe(8); // m and v for 4 trainable variables
    for (let i = 0; i < savedSlots.length; i++) expect(Array.from(restoredSlots[i]!.tensor.dataSync())).toEqual(Array.from(savedSlots[i]!.tensor.dataSync()));

    train(resumed, resumedOpt, 6);
    const a = new Map(straight.namedVariables());
    for (const [name, v] of resumed.namedVariables()) {
      const ref = a.get(name)!.dataSync();
      const got = v.dataSync();
      for (let i = 0; i < ref.length; i++) expect(got[i]).toBeCloseTo(ref[i]!, 5);
    }
    [straight, first, resumed].forEach((m) => m.dispose());
    [straightOpt, firstOpt, resumedOpt].forEach((o) => o.dispose());
  });

  it('ignores a checkpoint whose manifest was never written, prunes old ones, detects corruption', async () => {
    const root = tempRoot();
    const model = new Mlp(2);
    for (const step of [1, 2, 3]) await saveCheckpoint({ root, step, model, trainerState: { step }, keep: 2 });
    expect(listCheckpoints(root).map((c) => c.step)).toEqual([2, 3]);
    // Simulate a crash during the save of step 4: files present, manifest missing.
    const dir5 = await saveCheckpoint({ root, step: 5, model, trainerState: { step: 5 }, keep: 0 });
    fs.rmSync(path.join(dir5, 'checkpoint.json'));
    expect(latestCheckpoint(root)!.step).toBe(3);
    fs.appendFileSync(path.join(latestCheckpoint(root)!.path, 'model.safetensors'), 'x');
    await expect(loadCheckpoint(latestCheckpoint(root)!.path, { model })).rejects.toThrow(/checksum/);
    await expect(loadCheckpoint(path.join(root, 'nowhere'), { model })).rejects.toThrow(FileFormatError);
    expect(latestCheckpoint(path.join(root, 'nowhere'))).toBeUndefined();
    model.dispose();
  });

  it('refuses to restore into an optimizer that has already stepped, or of another class', async () => {
    const root = tempRoot();
    const model = new Mlp(3);
    const opt = tf.train.adam(0.01);
    train(model, opt, 1);
    const dir = await saveCheckpoint({ root, step: 1, model, optimizer: opt, trainerState: {} });
    await expect(loadCheckpoint(dir, { model, optimizer: opt })).rejects.toThrow(InvalidArgumentError);
    await expect(loadCheckpoint(dir, { model, optimizer: tf.train.sgd(0.1) })).rejects.toThrow(/Adam.*SGD/);
    model.dispose();
    opt.dispose();
  });

  it('does not leak tensors', async () => {
    const root = tempRoot();
    const model = new Mlp(4);
    const opt = tf.train.adam(0.01);
    train(model, opt, 2);
    const before = tf.memory().numTensors;
    const dir = await saveCheckpoint({ root, step: 2, model, optimizer: opt, trainerState: {} });
    expect(tf.memory().numTensors).toBe(before);
    const fresh = new Mlp(4);
    const freshOpt = tf.train.adam(0.01);
    const mid = tf.memory().numTensors;
    await loadCheckpoint(dir, { model: fresh, optimizer: freshOpt });
    // Only the optimizer's restored slots (2 per trainable variable) are new.
    expect(tf.memory().numTensors - mid).toBe(8);
    [model, fresh].forEach((m) => m.dispose());
    [opt, freshOpt].forEach((o) => o.dispose());
  });
});
