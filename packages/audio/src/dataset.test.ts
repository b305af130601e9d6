import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileFormatError, Rng } from '@vqkit/core';
import { AudioDataset, segmentBatchToTensors, type SkippedAudioFile } from './dataset.js';
import { parseFsddName } from './fsdd.js';
import { fsddDir } from './test-data.js';
import { encodeWav, readWav } from './wav.js';

const sine = (freq: number, rate: number, n: number, amp: number): Float32Array =>
  Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate));

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'vqkit-audio-ds-'));
  mkdirSync(path.join(dir, 'a'));
  mkdirSync(path.join(dir, 'b/c'), { recursive: true });
  writeFileSync(path.join(dir, 'a/quiet.wav'), encodeWav(sine(300, 8000, 4000, 0.1), { sampleRate: 8000 }));
  // Written clipped at ±1; resampling the flattened peaks overshoots full scale, which the loader clamps.
  const loud = sine(440, 44100, 8820, 1.5);
  writeFileSync(path.join(dir, 'b/c/stereo.WAV'), encodeWav([loud, loud], { sampleRate: 44100, format: 'float32' }));
  writeFileSync(path.join(dir, 'b/short.wav'), encodeWav(sine(200, 16000, 320, 0.5), { sampleRate: 16000 }));
  writeFileSync(path.join(dir, 'bad.wav'), 'this is not audio');
  const full = encodeWav(sine(100, 8000, 800, 0.5), { sampleRate: 8000 });
  writeFileSync(path.join(dir, 'truncated.wav'), full.subarray(0, full.length - 100));
  writeFileSync(path.join(dir, 'empty.wav'), encodeWav(new Float32Array(0), { sampleRate: 8000 }));
  writeFileSync(path.join(dir, 'notes.txt'), 'ignored');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('AudioDataset.load', () => {
  it('loads a folder recursively, downmixes, resamples, and reports bad files with reasons', async () => {
    const skipped: SkippedAudioFile[] = [];
    const ds = await AudioDataset.load(dir, { sampleRate: 8000, onSkip: (s) => skipped.push(s) });
    expect(ds.clips.map((c) => path.relative(dir, c.path))).toEqual(['a/quiet.wav', 'b/c/stereo.WAV', 'b/short.wav']);
    expect(ds.skipped).toEqual(skipped);
    const reasons = Object.fromEntries(skipped.map((s) => [path.basename(s.path), s.reason]));
    expect(Object.keys(reasons).sort()).toEqual(['bad.wav', 'empty.wav', 'truncated.wav']);
    expect(reasons['bad.wav']).toMatch(/not a WAV file/);
    expect(reasons['truncated.wav']).toMatch(/truncated/);
    expect(reasons['empty.wav']).toMatch(/no samples/);

    const [quiet, stereo, short] = ds.clips;
    expect(quiet!.samples.length).toBe(4000);
    expect(quiet!.gain).toBe(1);
    expect(stereo!.sourceChannels).toBe(2);
    expect(stereo!.sourceSampleRate).toBe(44100);
    expect(stereo!.samples.length).toBe(1600);
    expect(stereo!.clampedSamples).toBeGreaterThan(0);
    expect(Math.max(...stereo!.samples.map(Math.abs))).toBeLessThanOrEqual(1);
    expect(short!.samples.length).toBe(160);
    expect(ds.durationSeconds).toBeCloseTo((4000 + 1600 + 160) / 8000, 9);
  });

  it('fails on the first bad file with onCorrupt "fail"', async () => {
    const err = await AudioDataset.load(dir, { sampleRate: 8000, onCorrupt: 'fail' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileFormatError);
    expect((err as FileFormatError).path).toBe(path.join(dir, 'bad.wav'));
  });

  it('applies the peak and RMS level policies without clipping', async () => {
    const files = [path.join(dir, 'a/quiet.wav'), path.join(dir, 'b/short.wav')];
    const peak = await AudioDataset.load(files, { sampleRate: 8000, level: { mode: 'peak', peak: 0.5 } });
    for (const c of peak.clips) expect(Math.max(...c.samples.map(Math.abs))).toBeCloseTo(0.5, 3);
    const rms = await AudioDataset.load(files, { sampleRate: 8000, level: { mode: 'rms', targetDbfs: -12 } });
    const q = rms.clips[0]!.samples;
    expect(20 * Math.log10(Math.sqrt(q.reduce((s, v) => s + v * v, 0) / q.length))).toBeCloseTo(-12, 2);
    // -12 dBFS RMS for a sine needs a peak of 0.355 · √2 ≈ 0.35 → fine; a louder target is peak-limited.
    const limited = await AudioDataset.load(files, { sampleRate: 8000, level: { mode: 'rms', targetDbfs: -1 } });
    expect(Math.max(...limited.clips[0]!.samples.map(Math.abs))).toBeCloseTo(1, 3);
    expect(limited.clips.every((c) => c.clampedSamples === 0)).toBe(true);
  });
});

describe('segments', () => {
  const clips = [
    { path: 'long', samples: Float32Array.from({ length: 1000 }, (_, i) => i + 1), sourceSampleRate: 8000, sourceChannels: 1, gain: 1, clampedSamples: 0 },
    { path: 'short', samples: Float32Array.from({ length: 30 }, (_, i) => -(i + 1)), sourceSampleRate: 8000, sourceChannels: 1, gain: 1, clampedSamples: 0 },
  ];
  const ds = AudioDataset.fromClips(8000, clips);

  it('cuts real windows from clips and zero-pads short clips with a mask', () => {
    const batch = ds.sampleSegments(64, 100, new Rng(1));
    let sawShort = false;
    let sawLong = false;
    for (let b = 0; b < batch.count; b++) {
      const row = batch.audio.subarray(b * 100, (b + 1) * 100);
      const mask = batch.mask.subarray(b * 100, (b + 1) * 100);
      const clip = clips[batch.clipIndices[b]!]!.samples;
      const real = Math.min(100, clip.length);
      expect(Array.from(row.subarray(0, real))).toEqual(Array.from(clip.subarray(batch.offsets[b]!, batch.offsets[b]! + real)));
      expect(mask.subarray(0, real).every((m) => m === 1)).toBe(true);
      expect(row.subarray(real).every((v) => v === 0) && mask.subarray(real).every((m) => m === 0)).toBe(true);
      if (real < 100) sawShort = true;
      else sawLong = true;
      expect(batch.offsets[b]!).toBeLessThanOrEqual(clip.length - real);
    }
    expect(sawShort && sawLong).toBe(true);
  });

  it('is reproducible per seed', () => {
    const first = (seed: number): Float32Array => ds.segmentBatches(4, 50, seed).next().value.audio;
    expect(Array.from(first(3))).toEqual(Array.from(first(3)));
    expect(Array.from(first(3))).not.toEqual(Array.from(first(4)));
    const it2 = ds.segmentBatches(4, 50, 3);
    const a = it2.next().value.audio;
    const b = it2.next().value.audio;
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });

  it('converts to tensors', () => {
    const { audio, mask } = segmentBatchToTensors(ds.sampleSegments(3, 20, new Rng(2)));
    expect(audio.shape).toEqual([3, 20]);
    expect(mask.shape).toEqual([3, 20]);
    tf.dispose([audio, mask]);
  });
});

describe.skipIf(!existsSync(fsddDir))('FSDD', () => {
  it('loads recordings unchanged at 8 kHz and splits by take index', async () => {
    const files = readdirSync(fsddDir).filter((f) => f.startsWith('3_')).sort().slice(0, 40).map((f) => path.join(fsddDir, f));
    const ds = await AudioDataset.load(files, { sampleRate: 8000, onCorrupt: 'fail' });
    expect(ds.size).toBe(40);
    const raw = await readWav(files[0]!);
    expect(Array.from(ds.clips[0]!.samples)).toEqual(Array.from(raw.channels[0]!));
    const test = ds.filter((c) => parseFsddName(c.path).split === 'test');
    expect(test.size).toBeGreaterThan(0);
    expect(test.clips.every((c) => parseFsddName(c.path).index <= 4)).toBe(true);
    const up = await AudioDataset.load(files.slice(0, 2), { sampleRate: 16000 });
    expect(up.clips[0]!.samples.length).toBe(2 * raw.channels[0]!.length);
  });
});
