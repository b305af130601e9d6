import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, initEngine, InvalidArgumentError, Rng } from '@vqkit/core';
import { AudioDataset, type AudioClip } from '../dataset.js';
import { AudioTokenizer } from '../tokenizer.js';
import { levelsForStep, trainAudioTokenizer, type TrainAudioTokenizerOptions } from './trainer.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-audio-train-'));
beforeAll(async () => {
  // tfjs-cpu's convolution filter gradient is ~25× slower than vqkit-cpu's GEMM kernels; fall back only when the engine is not built.
  await initEngine({ backend: 'vqkit-cpu' }).catch(() => initEngine({ backend: 'cpu' }));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Eight steady tones (two partials each) at 8 kHz over a faint noise floor, as in a recording. */
function toneSet(): AudioDataset {
  const clips: AudioClip[] = [];
  const rng = new Rng(7);
  for (let i = 0; i < 8; i++) {
    const f = 180 + 110 * i;
    const samples = Float32Array.from(
      { length: 2000 },
      (_, t) => 0.4 * Math.sin((2 * Math.PI * f * t) / 8000) + 0.15 * Math.sin((2 * Math.PI * 2 * f * t) / 8000 + 1) + 0.01 * rng.normal(),
    );
    clips.push({ path: `tone${i}`, samples, sourceSampleRate: 8000, sourceChannels: 1, gain: 1, clampedSamples: 0 });
  }
  return AudioDataset.fromClips(8000, clips);
}

const tiny: TrainAudioTokenizerOptions['config'] = {
  // Spectral ends with 8 ms / 4 ms frames every 1 ms: fine enough in frequency for the tones.
  architecture: { channels: 8, maxChannels: 16, latentDim: 8, strides: [4, 8], stftNfft: 64, stftHop: 8, istftNfft: 32, istftHop: 8 },
  quantizer: { levels: 2, codebookSize: 16, restartThreshold: 0 },
};

describe('trainAudioTokenizer', () => {
  it('learns to reconstruct a tone set: the loss falls below 85 % of the first step, two levels beat one, and the outputs are a loadable tokenizer', async () => {
    const losses: number[] = [];
    const out = path.join(tmp, 'tones');
    const result = await trainAudioTokenizer({
      dataset: toneSet(),
      outputDir: out,
      config: tiny,
      steps: 80,
      batchSize: 4,
      segmentSeconds: 0.1,
      learningRate: 3e-3,
      warmupSteps: 5,
      quantizerDropout: 0.5,
      validationClips: 4,
      validateEvery: 0,
      checkpointEvery: 0,
      reportClips: 2,
      onProgress: (p) => losses.push(p.loss),
    });
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    // The untrained decoder is quiet; within 80 steps the spectral losses fall well below that (the iSTFT head
    // has to learn each tone's phase advance, so steady tones converge slower than speech spectra do).
    expect(mean(losses.slice(-10))).toBeLessThan(0.85 * losses[0]!);
    expect(result.step).toBe(80);
    expect(result.validation!.bitrates.map((b) => b.levels)).toEqual([1, 2]);
    // The second level refines the first: decoding with both is closer to the input.
    const [one, two] = result.validation!.bitrates;
    expect(two!.logSpectralDistanceDb).toBeLessThan(one!.logSpectralDistanceDb);
    expect(two!.melCepstralDistortionDb).toBeLessThan(one!.melCepstralDistortionDb);
    for (const name of ['spectrograms.png', 'loss.png', 'codebook-usage.png', 'summary.json']) expect(fs.existsSync(path.join(out, 'report', name))).toBe(true);
    const tokenizer = await AudioTokenizer.load(out);
    expect(tokenizer.bitrates).toEqual([1000, 2000]);
    tokenizer.dispose();
  }, 120_000);

  it('resumes from a checkpoint to the same weights as an uninterrupted run', async () => {
    const common = {
      dataset: toneSet(),
      config: tiny,
      steps: 6,
      batchSize: 2,
      segmentSeconds: 0.05,
      validationClips: 1,
      validateEvery: 0,
      reportClips: 1,
    } satisfies Partial<TrainAudioTokenizerOptions>;
    await trainAudioTokenizer({ ...common, outputDir: path.join(tmp, 'straight'), checkpointEvery: 0 });
    const controller = new AbortController();
    const first = await trainAudioTokenizer({
      ...common,
      outputDir: path.join(tmp, 'resumed'),
      checkpointEvery: 0,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 3) controller.abort();
      },
    });
    expect([first.aborted, first.step]).toEqual([true, 3]);
    const second = await trainAudioTokenizer({ ...common, outputDir: path.join(tmp, 'resumed'), checkpointEvery: 0, resume: true });
    expect([second.resumedFrom, second.step]).toEqual([3, 6]);
    const a = decodeSafetensors(fs.readFileSync(path.join(tmp, 'straight', 'model.safetensors'))).tensors;
    const b = decodeSafetensors(fs.readFileSync(path.join(tmp, 'resumed', 'model.safetensors'))).tensors;
    for (const [name, t] of a) expect(Array.from(b.get(name)!.data), name).toEqual(Array.from(t.data));
    await expect(trainAudioTokenizer({ ...common, outputDir: path.join(tmp, 'resumed'), batchSize: 3, resume: true })).rejects.toThrow(InvalidArgumentError);
  }, 60_000);

  it('draws the level count per step from the seed: all levels without dropout, every count with it', () => {
    expect(new Set(Array.from({ length: 50 }, (_, s) => levelsForStep(0, s, 6, 0)))).toEqual(new Set([6]));
    const drawn = Array.from({ length: 400 }, (_, s) => levelsForStep(0, s, 6, 0.5));
    expect(new Set(drawn).size).toBe(6);
    expect(drawn.filter((l) => l === 6).length).toBeGreaterThan(150);
    expect(levelsForStep(3, 17, 6, 0.5)).toBe(levelsForStep(3, 17, 6, 0.5));
  });
});
