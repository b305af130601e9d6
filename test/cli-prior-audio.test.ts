import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AudioTokenizer, createAudioTokenizerConfig, decodeWav, encodeWav } from '@vqkit/audio';
import { PriorModel, samplePrior } from '@vqkit/prior';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../packages/cli/src/main.js';

// The audio path of `vqkit train prior` / `vqkit sample` end to end: a tiny
// (untrained) residual-VQ speech tokenizer, two classes of synthetic tones in
// class subfolders, a class-conditional prior over the flattened codes, and
// WAV files sampled by class.

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-cli-prior-audio-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const SAMPLE_RATE = 8000;
const HOP = 2 * 4 * 4 * 5; // 160 samples per code frame: 50 frames/s
const LEVELS = 2;
const K = 16;
const PER_CLASS = 6;
let tokenizerDir: string;
let tokenizerId: string;
let data: string;

/** A tone with a little vibrato, `frames` code frames long. */
function tone(hz: number, frames: number, phase: number): Float32Array {
  const out = new Float32Array(frames * HOP);
  for (let i = 0; i < out.length; i++) out[i] = 0.5 * Math.sin((2 * Math.PI * hz * i) / SAMPLE_RATE + phase + 0.3 * Math.sin((2 * Math.PI * 5 * i) / SAMPLE_RATE));
  return out;
}

beforeAll(async () => {
  const tokenizer = AudioTokenizer.create(
    createAudioTokenizerConfig({ sampleRate: SAMPLE_RATE, architecture: { channels: 4, maxChannels: 8, latentDim: 8, strides: [2, 4, 4, 5] }, quantizer: { levels: LEVELS, codebookSize: K } }),
    { seed: 5 },
  );
  tokenizerDir = path.join(root, 'tokenizer');
  tokenizer.save(tokenizerDir);
  tokenizerId = tokenizer.id;
  tokenizer.dispose();
  data = path.join(root, 'tones');
  for (const [name, hz] of [
    ['high', 1200],
    ['low', 220],
  ] as const) {
    fs.mkdirSync(path.join(data, name), { recursive: true });
    for (let i = 0; i < PER_CLASS; i++) {
      fs.writeFileSync(path.join(data, name, `${name}_${i}.wav`), encodeWav(tone(hz * (1 + i / 50), 8 + (i % 3), i), { sampleRate: SAMPLE_RATE }));
    }
  }
});

describe('vqkit train prior / vqkit sample (audio)', () => {
  it('trains a class-conditional prior on an audio tokenizer’s codes and samples WAV files of the requested class and length', async () => {
    const out = path.join(root, 'prior');
    const cache = path.join(root, 'cache');
    const train = [
      '--backend', 'cpu', 'train', 'prior', '--tokenizer', tokenizerDir, '--data', data, '--labels', 'subfolders', '-o', out, '--cache-dir', cache,
      '--steps', '4', '--batch-size', '4', '--embd', '16', '--layers', '1', '--heads', '2', '--eval-every', '2', '--val-fraction', '0.2',
    ];
    expect(await main(train)).toBe(0);
    expect(fs.readdirSync(cache)).toEqual([tokenizerId]);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { steps: number; validation: { bitsPerToken: number; bitsPerSecond?: number } };
    expect(report.steps).toBe(4);
    expect(report.validation.bitsPerToken).toBeGreaterThan(0);
    // Code frames per second come from the tokenizer: bits/s = bits/token · levels · 50.
    expect(report.validation.bitsPerSecond).toBeCloseTo(report.validation.bitsPerToken * LEVELS * (SAMPLE_RATE / HOP), 3);

    const prior = PriorModel.load(out);
    expect(prior.metadata).toMatchObject({ modality: 'audio', audioPattern: 'flatten', tokenizer: tokenizerId, classNames: ['high', 'low'], framesPerSecond: SAMPLE_RATE / HOP });
    expect(prior.config.vocabulary).toMatchObject({ codebookSize: K, levels: LEVELS, numClasses: 2 });
    // Context: the longest clip (10 frames × 2 levels).
    expect(prior.config.nPositions).toBe(10 * LEVELS);

    // Longer than the context: decoding slides its window frame by frame.
    const frames = 14;
    const wavDir = path.join(root, 'low');
    const codesFile = path.join(root, 'low.json');
    expect(await main(['--backend', 'cpu', 'sample', '--prior', out, '--class', 'low', '--n', '2', '--frames', String(frames), '-o', wavDir, '--codes', codesFile, '--seed', '3'])).toBe(0);
    expect(fs.readdirSync(wavDir).sort()).toEqual(['sample-000.wav', 'sample-001.wav']);
    for (const file of fs.readdirSync(wavDir)) {
      const wav = decodeWav(fs.readFileSync(path.join(wavDir, file)));
      expect(wav.sampleRate).toBe(SAMPLE_RATE);
      expect(wav.channels).toHaveLength(1);
      expect(wav.channels[0]!.length).toBe(frames * HOP);
      expect(wav.channels[0]!.every(Number.isFinite)).toBe(true);
    }
    const sampled = JSON.parse(fs.readFileSync(codesFile, 'utf8')) as { modality: string; classIndex: number; samples: { codes: number[]; frames: number; sequence: number[] }[] };
    expect(sampled).toMatchObject({ modality: 'audio', classIndex: 1 });
    expect(sampled.samples).toHaveLength(2);
    const vocab = prior.config.vocabulary;
    for (const s of sampled.samples) {
      expect(s.frames).toBe(frames);
      expect(s.codes).toHaveLength(frames * LEVELS);
      expect(s.codes.every((c) => Number.isInteger(c) && c >= 0 && c < K)).toBe(true);
      // The sequence starts with the class token of 'low'; level l of every frame uses its own id range.
      expect(s.sequence).toHaveLength(1 + frames * LEVELS);
      expect(s.sequence[0]).toBe(vocab.firstClassId + 1);
      s.sequence.slice(1).forEach((t, i) => expect(t - (i % LEVELS) * K).toBe(s.codes[i]));
    }
    // The command samples exactly what the library does for that class and seed, and another class gives other samples.
    const reference = samplePrior(prior, { count: 2, classIndex: 1, seed: 3, frames });
    expect(sampled.samples.map((s) => s.codes)).toEqual(reference.map((r) => Array.from(r.codes)));
    const other = samplePrior(prior, { count: 2, classIndex: 0, seed: 3, frames });
    expect(other.map((r) => Array.from(r.codes))).not.toEqual(sampled.samples.map((s) => s.codes));
    prior.dispose();

    // --n 1 to a .wav path writes that file.
    const single = path.join(root, 'one.wav');
    expect(await main(['--backend', 'cpu', 'sample', '--prior', out, '--class', '0', '--n', '1', '--frames', '5', '-o', single])).toBe(0);
    expect(decodeWav(fs.readFileSync(single)).channels[0]!.length).toBe(5 * HOP);

    // --levels 1: a prior over the coarsest level only; its samples decode from that level.
    const coarse = path.join(root, 'prior-coarse');
    expect(await main([...train.map((arg) => (arg === out ? coarse : arg)), '--levels', '1'])).toBe(0);
    const coarsePrior = PriorModel.load(coarse);
    expect(coarsePrior.config.vocabulary).toMatchObject({ levels: 1, codebookSize: K });
    expect(coarsePrior.metadata.tokensPerSecond).toBe(SAMPLE_RATE / HOP);
    coarsePrior.dispose();
    const coarseWav = path.join(root, 'coarse.wav');
    expect(await main(['--backend', 'cpu', 'sample', '--prior', coarse, '--class', 'high', '--n', '1', '--frames', '6', '-o', coarseWav, '--codes', codesFile])).toBe(0);
    expect(decodeWav(fs.readFileSync(coarseWav)).channels[0]!.length).toBe(6 * HOP);
    expect((JSON.parse(fs.readFileSync(codesFile, 'utf8')) as { samples: { codes: number[] }[] }).samples[0]!.codes).toHaveLength(6);

    // Audio priors need --frames.
    expect(await main(['--backend', 'cpu', 'sample', '--prior', out, '--n', '1', '-o', single])).toBe(2);
  });
});
