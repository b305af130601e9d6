import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeSafetensors, initEngine, InvalidArgumentError, latestCheckpoint } from '@vqkit/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ImageDataset } from '../data/dataset.js';
import type { ImageTokenizerConfigInput } from '../model/config.js';
import { saveImage } from '../io.js';
import { ImageTokenizer } from '../tokenizer.js';
import { learningRateAt } from './schedule.js';
import { trainImageTokenizer, type TrainingProgress } from './trainer.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-train-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** 8×8 gray images of a bright 3×3 square at a pseudo-random position on a dim background. */
function squares(count: number): Promise<ImageDataset> {
  const size = 8;
  const data = new Uint8Array(count * size * size);
  for (let n = 0; n < count; n++) {
    const ox = (n * 5) % 6;
    const oy = (n * 3 + 1) % 6;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = x >= ox && x < ox + 3 && y >= oy && y < oy + 3;
        data[n * 64 + y * 8 + x] = inside ? 220 : 30 + ((x + y) % 2) * 10;
      }
    }
  }
  return ImageDataset.load({ source: { kind: 'arrays', images: { data, count, height: size, width: size, channels: 1 } }, validationFraction: 0.25, channels: 1, seed: 1 });
}

const tiny: ImageTokenizerConfigInput = {
  architecture: { downsampling: 2, hiddenChannels: 8, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 4 },
  // No k-means init / restarts: both draw quantizer-internal random numbers, which checkpoints do not carry.
  quantizer: { type: 'vq', codebookSize: 16, kmeansInit: false, restartThreshold: 0 },
};

describe('trainImageTokenizer', () => {
  it('lowers the loss, writes tokenizer + report, and does not leak tensors across steps', async () => {
    const out = tempDir();
    const dataset = await squares(48);
    const progress: TrainingProgress[] = [];
    const tensorsAtStep: number[] = [];
    const result = await trainImageTokenizer({
      dataset,
      outputDir: out,
      config: tiny,
      steps: 30,
      batchSize: 8,
      learningRate: 3e-3,
      warmupSteps: 3,
      checkpointEvery: 10,
      onProgress: (p) => {
        progress.push(p);
        tensorsAtStep.push(tf.memory().numTensors);
      },
    });
    expect(result.aborted).toBe(false);
    expect(result.step).toBe(30);
    expect(progress.map((p) => p.step)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(progress.slice(0, 5).map((p) => p.reconLoss));
    const last = mean(progress.slice(-5).map((p) => p.reconLoss));
    expect(last).toBeLessThan(first * 0.7);
    // 36 training images / 8 = 4 steps per epoch → validation after every 4 steps and at step 30.
    expect(result.validationHistory.map((v) => v.step)).toEqual([4, 8, 12, 16, 20, 24, 28, 30]);
    expect(result.validation!.images).toBe(12);
    expect(result.validation!.psnr).toBeGreaterThan(result.validationHistory[0]!.psnr);
    const p = progress.at(-1)!;
    expect(p.totalSteps).toBe(30);
    expect(p.etaSeconds).toBe(0);
    expect(p.imagesPerSecond).toBeGreaterThan(0);
    expect(p.usage).toBeGreaterThan(0);
    expect(p.usage).toBeLessThanOrEqual(1);
    // Steady state: the tensor count does not grow from step to step.
    expect(new Set(tensorsAtStep.slice(2)).size).toBe(1);

    for (const f of ['config.json', 'model.safetensors', 'report/reconstructions.png', 'report/codebook-usage.png', 'report/loss.png', 'report/summary.json']) {
      expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    }
    const tok = await ImageTokenizer.load(out);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'report/summary.json'), 'utf8'));
    expect(summary.tokenizerId).toBe(tok.id);
    expect(summary.steps).toBe(30);
    expect(latestCheckpoint(path.join(out, 'checkpoints'))!.step).toBe(30);
    tok.dispose();
  });

  it('abort writes a checkpoint; resume continues the step count and matches an uninterrupted run', async () => {
    const dataset = await squares(32);
    const common = { dataset, config: tiny, steps: 12, batchSize: 8, learningRate: 3e-3, warmupSteps: 2, checkpointEvery: 0, seed: 5 };

    const straightDir = tempDir();
    await trainImageTokenizer({ ...common, outputDir: straightDir });

    const dir = tempDir();
    const controller = new AbortController();
    const first = await trainImageTokenizer({
      ...common,
      outputDir: dir,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 5) controller.abort();
      },
    });
    expect(first.aborted).toBe(true);
    expect(first.step).toBe(5);
    expect(fs.existsSync(path.join(dir, 'model.safetensors'))).toBe(false);
    const ckpt = latestCheckpoint(path.join(dir, 'checkpoints'))!;
    expect(ckpt.step).toBe(5);
    const optimizerState = decodeSafetensors(fs.readFileSync(path.join(ckpt.path, 'optimizer.safetensors')));
    expect(optimizerState.tensors.get('iter')!.data[0]).toBe(5);

    const steps: number[] = [];
    const resumed = await trainImageTokenizer({ ...common, outputDir: dir, resume: true, onProgress: (p) => steps.push(p.step) });
    expect(resumed.resumedFrom).toBe(5);
    expect(steps).toEqual([6, 7, 8, 9, 10, 11, 12]);
    const finalOptimizer = decodeSafetensors(fs.readFileSync(path.join(resumed.checkpoint, 'optimizer.safetensors')));
    expect(finalOptimizer.tensors.get('iter')!.data[0]).toBe(12);

    const a = decodeSafetensors(fs.readFileSync(path.join(straightDir, 'model.safetensors'))).tensors;
    const b = decodeSafetensors(fs.readFileSync(path.join(dir, 'model.safetensors'))).tensors;
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [name, t] of a) {
      const u = b.get(name)!.data;
      let maxDiff = 0;
      for (let i = 0; i < t.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(t.data[i]! - u[i]!));
      expect(maxDiff, name).toBeLessThan(1e-4);
    }
  });

  it.each([
    [{ type: 'rvq', codebookSize: 8, levels: 2, kmeansInit: false }],
    [{ type: 'fsq', levels: [5, 4, 3] }],
  ] as const)('trains with %o and reports its usage', async (quantizer) => {
    const dataset = await squares(16);
    const dir = tempDir();
    const progress: TrainingProgress[] = [];
    const result = await trainImageTokenizer({
      dataset,
      outputDir: dir,
      config: { ...tiny, quantizer: JSON.parse(JSON.stringify(quantizer)) },
      steps: 3,
      batchSize: 4,
      onProgress: (p) => progress.push(p),
    });
    expect(result.step).toBe(3);
    expect(result.validation!.usedFraction.length).toBe(quantizer.type === 'rvq' ? 2 : 1);
    expect(progress.at(-1)!.usage).toBeGreaterThan(0);
    const tok = await ImageTokenizer.load(dir);
    expect((await tok.encode({ data: new Uint8Array(64), width: 8, height: 8, channels: 1 })).shape).toEqual(quantizer.type === 'rvq' ? [4, 4, 2] : [4, 4]);
    tok.dispose();
  });

  it('rejects a resume with a different config or batch size, and bad options', async () => {
    const dataset = await squares(16);
    const dir = tempDir();
    await trainImageTokenizer({ dataset, outputDir: dir, config: tiny, steps: 2, batchSize: 4, checkpointEvery: 1 });
    await expect(
      trainImageTokenizer({ dataset, outputDir: dir, config: { ...tiny, architecture: { ...tiny.architecture, codeDim: 8 } }, steps: 4, batchSize: 4, resume: true }),
    ).rejects.toThrow(/different config/);
    await expect(trainImageTokenizer({ dataset, outputDir: dir, config: tiny, steps: 4, batchSize: 2, resume: true })).rejects.toThrow(/batchSize 2/);
    await expect(trainImageTokenizer({ dataset, outputDir: dir, config: tiny, steps: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(
      trainImageTokenizer({ dataset, outputDir: dir, config: { ...tiny, preprocessing: { channels: 3 } }, steps: 1 }),
    ).rejects.toThrow(/3 channel\(s\) but the dataset yields 1/);
  });
});

describe('trainImageTokenizer data and stopping', () => {
  it('trains from a streamed folder (cache: false) and a time limit ends the run with all outputs written', async () => {
    const folder = tempDir();
    for (let i = 0; i < 6; i++) {
      const data = new Uint8Array(64).map((_, p) => ((p % 8) * 30 + i * 17) % 256);
      await saveImage(path.join(folder, `img${i}.png`), { data, width: 8, height: 8, channels: 1 });
    }
    const dataset = await ImageDataset.load({ source: { kind: 'folder', path: folder }, channels: 1, cache: false, validationFraction: 0.34 });
    expect(dataset.train.cached).toBe(false);
    const out = tempDir();
    // Any step takes longer than a nanosecond: the limit stops the run after its first step.
    const rates: number[] = [];
    const result = await trainImageTokenizer({
      dataset,
      outputDir: out,
      config: tiny,
      steps: 100,
      batchSize: 2,
      learningRate: 1e-3,
      finalLearningRateRatio: 0.1,
      timeLimitSeconds: 1e-9,
      onProgress: (p) => rates.push(p.learningRate),
    });
    expect(result).toMatchObject({ step: 1, totalSteps: 100, aborted: false, stoppedEarly: true });
    // The schedule follows the clock when that is further along: the limit has passed, so the rate is at its floor.
    expect(rates).toHaveLength(1);
    expect(rates[0]).toBeCloseTo(1e-4, 12);
    expect(result.validation!.step).toBe(1);
    expect(result.validation!.images).toBe(2);
    for (const f of ['model.safetensors', 'report/reconstructions.png', 'report/summary.json']) expect(fs.existsSync(path.join(out, f)), f).toBe(true);
  });

  it('dead-code restarts keep the codebook in use where a plain EMA codebook collapses', async () => {
    const dataset = await squares(48);
    const usage = async (quantizer: ImageTokenizerConfigInput['quantizer']) => {
      const result = await trainImageTokenizer({ dataset, outputDir: tempDir(), config: { ...tiny, quantizer }, steps: 40, batchSize: 8, learningRate: 3e-3, seed: 2 });
      return result.validation!.usedFraction[0]!;
    };
    const plain = await usage({ type: 'vq', codebookSize: 16, kmeansInit: false, restartThreshold: 0 });
    const restarted = await usage({ type: 'vq', codebookSize: 16, kmeansInit: true, restartThreshold: 3, decay: 0.95 });
    expect(restarted).toBeGreaterThan(plain + 0.2);
  });
});

describe('learning-rate schedule', () => {
  it('warms up linearly, peaks, and decays by a cosine to the floor', () => {
    const s = { baseLearningRate: 1e-3, warmupSteps: 10, totalSteps: 110, finalRatio: 0.1 };
    expect(learningRateAt(s, 0)).toBeCloseTo(1e-4, 10);
    expect(learningRateAt(s, 9)).toBeCloseTo(1e-3, 10);
    expect(learningRateAt(s, 10)).toBeCloseTo(1e-3, 10);
    expect(learningRateAt(s, 60)).toBeCloseTo(0.55e-3, 10);
    expect(learningRateAt(s, 110)).toBeCloseTo(1e-4, 10);
    expect(learningRateAt(s, 500)).toBeCloseTo(1e-4, 10);
  });
});
