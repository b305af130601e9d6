import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FileFormatError, initEngine, readOnnxModel, Rng } from '@vqkit/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAudioTokenizerConfig, type AudioTokenizerConfigInput } from '../model/config.js';
import { AudioTokenizer, type EncodedAudio } from '../tokenizer.js';
import { exportAudioModelToOnnx, exportAudioTokenizerToOnnx, writeAudioOnnxExport } from './export.js';
import { AudioOnnxRuntime } from './runtime.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-audio-onnx-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * A tiny untrained tokenizer whose decoder output is not near-silent: the
 * waveform decoder's output conv starts at zero and the iSTFT decoder's
 * log-magnitude bias at −4, so those get random values that make outputs of order 1.
 */
function tinyTokenizer(input: AudioTokenizerConfigInput, seed = 3): AudioTokenizer {
  const tok = AudioTokenizer.create(createAudioTokenizerConfig(input), { seed });
  for (const [name, variable] of tok.model.namedVariables()) {
    if (name === 'decoder.output.weight') variable.assign(tf.randomNormal(variable.shape, 0, 0.03, 'float32', seed));
    if (name === 'decoder.magnitude.bias') variable.assign(tf.randomNormal(variable.shape, -1.5, 0.5, 'float32', seed));
  }
  return tok;
}

/** Chirp + harmonics + noise: speech-like enough to spread codes over the codebooks. */
function signal(length: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length }, (_, t) => {
    const f = 150 + (t / Math.max(1, length)) * 900;
    return 0.4 * Math.sin((2 * Math.PI * f * t) / 8000) + 0.15 * Math.sin((2 * Math.PI * 3.1 * f * t) / 8000) + 0.05 * (rng.uniform() * 2 - 1);
  });
}

/** Codebook-space vectors of latents [F, D] (projectIn applied when the quantizer has one). */
function codebookSpace(tok: AudioTokenizer, latents: tf.Tensor2D): tf.Tensor2D {
  const vars = new Map(tok.model.namedVariables());
  const w = vars.get('quantizer.projectIn.weight');
  if (!w) return latents.clone();
  return tf.tidy(() => tf.add(tf.matMul(latents, w as tf.Tensor2D), vars.get('quantizer.projectIn.bias')!) as tf.Tensor2D);
}

/**
 * Compares ONNX codes with TF.js codes frame by frame: for each frame that
 * differs, the gap between the squared distances of the TF.js residual at the
 * first differing level to the two codes, relative to ‖r‖² + 1. A tie (the
 * only allowed difference) has a gap at float rounding level; later levels of
 * a tied frame quantize a different residual and are not compared.
 */
function tieGaps(tok: AudioTokenizer, samples: Float32Array, expected: EncodedAudio, got: EncodedAudio): number[] {
  expect(got.frames).toBe(expected.frames);
  expect(got.levels).toBe(expected.levels);
  const L = expected.levels;
  const mismatched: { frame: number; level: number }[] = [];
  for (let f = 0; f < expected.frames; f++) {
    for (let l = 0; l < L; l++) {
      if (got.codes[f * L + l] !== expected.codes[f * L + l]) {
        mismatched.push({ frame: f, level: l });
        break;
      }
    }
  }
  if (mismatched.length === 0) return [];
  // Re-derive the TF.js residuals (unchunked: these test signals fit one chunk).
  const padded = new Float32Array(expected.frames * tok.hopLength);
  padded.set(samples);
  const residuals = tf.tidy(() => {
    const latents = tok.model.encodeLatents(tf.tensor2d(padded, [1, padded.length])).squeeze([0]) as tf.Tensor2D;
    return codebookSpace(tok, latents).arraySync();
  });
  const vectors = tok.model.quantizer.layers.map((layer) => tf.tidy(() => layer.codeVectors(tf.range(0, layer.codebookSize, 1, 'int32')).arraySync() as number[][]));
  const dist = (a: number[], b: number[]) => a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0);
  return mismatched.map(({ frame, level }) => {
    const r = residuals[frame]!;
    for (let l = 0; l < level; l++) {
      const e = vectors[l]![expected.codes[frame * L + l]!]!;
      for (let d = 0; d < r.length; d++) r[d] = r[d]! - e[d]!;
    }
    const a = dist(r, vectors[level]![expected.codes[frame * L + level]!]!);
    const b = dist(r, vectors[level]![got.codes[frame * L + level]!]!);
    return Math.abs(a - b) / (r.reduce((s, v) => s + v * v, 0) + 1);
  });
}

/** Checks that ONNX codes equal TF.js codes up to ties; returns the number of tied frames. */
function compareCodes(tok: AudioTokenizer, samples: Float32Array, expected: EncodedAudio, got: EncodedAudio): number {
  const gaps = tieGaps(tok, samples, expected, got);
  // A tie: the two distances agree to float32 rounding of the terms summed.
  for (const gap of gaps) expect(gap).toBeLessThan(1e-5);
  return gaps.length;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const cases: { name: string; config: AudioTokenizerConfigInput }[] = [
  {
    name: 'waveform encoder and decoder, hop 160 (strides 2,4,4,5), 3 levels of 16',
    config: {
      architecture: { channels: 4, maxChannels: 8, latentDim: 8, strides: [2, 4, 4, 5], encoder: 'waveform', decoder: 'waveform' },
      quantizer: { levels: 3, codebookSize: 16, kmeansInit: false },
    },
  },
  {
    name: 'waveform encoder and decoder, hop 24 (strides 3,8), kernel 5, 2 residual units, projected codebooks (dim 3), 4 levels',
    config: {
      architecture: { channels: 6, maxChannels: 16, latentDim: 8, strides: [3, 8], kernelSize: 5, residualUnits: 2, encoder: 'waveform', decoder: 'waveform' },
      quantizer: { levels: 4, codebookSize: 8, codebookDim: 3, kmeansInit: false },
    },
  },
  {
    name: 'STFT encoder + iSTFT decoder (reference framing: hop 160, STFT 256 points every 40, iSTFT 160 every 40), 3 levels',
    config: {
      architecture: { channels: 4, maxChannels: 8, latentDim: 8, strides: [2, 4, 4, 5], encoder: 'stft', stftNfft: 256, stftHop: 40, decoder: 'istft', istftHop: 40, istftNfft: 160 },
      quantizer: { levels: 3, codebookSize: 16, kmeansInit: false },
    },
  },
  {
    name: 'waveform encoder + iSTFT decoder, hop 20 (strides 4,5), odd iSTFT hop 5, 16-point frames, 2 residual units',
    config: {
      architecture: { channels: 4, maxChannels: 8, latentDim: 6, strides: [4, 5], residualUnits: 2, encoder: 'waveform', decoder: 'istft', istftHop: 5, istftNfft: 16 },
      quantizer: { levels: 2, codebookSize: 8, kmeansInit: false },
    },
  },
  {
    name: 'STFT encoder (odd hop 5, 8 points) + waveform decoder, hop 20, projected codebooks',
    config: {
      architecture: { channels: 4, maxChannels: 8, latentDim: 6, strides: [4, 5], encoder: 'stft', stftHop: 5, stftNfft: 8, decoder: 'waveform' },
      quantizer: { levels: 3, codebookSize: 8, codebookDim: 4, kmeansInit: false },
    },
  },
];

describe('audio tokenizer ONNX export', () => {
  for (const c of cases) {
    it(`${c.name}: ONNX Runtime codes and audio match TF.js`, async () => {
      const tok = tinyTokenizer(c.config);
      const dir = tempDir();
      await tok.save(dir);
      exportAudioTokenizerToOnnx(tok, path.join(dir, 'onnx'));
      const viaOnnx = await AudioTokenizer.load(dir, { runtime: 'onnx' });
      const viaTfjs = await AudioTokenizer.load(dir, { runtime: 'tfjs' });
      expect(viaOnnx.runtime).toBe('onnx');
      expect(viaTfjs.runtime).toBe('tfjs');
      const hop = tok.hopLength;
      const N = tok.config.quantizer.levels;
      let ties = 0;
      let codes = 0;
      let worst = 0;
      let peak = 0;
      try {
        for (const length of [hop, 7 * hop + 5, 2000, 8000]) {
          const samples = signal(length, length);
          for (const levels of [N, 1, N - 1]) {
            const expected = viaTfjs.encodeSamples(samples, { levels });
            const got = await viaOnnx.encodeSamplesAsync(samples, { levels });
            ties += compareCodes(tok, samples, expected, got);
            codes += expected.codes.length;
            // Decoding the same codes (all levels or fewer): within 1e-4.
            const ref = viaTfjs.decode(expected);
            const out = await viaOnnx.decodeAsync(expected);
            expect(out.length).toBe(length);
            worst = Math.max(worst, maxAbsDiff(out, ref));
            peak = ref.reduce((m, v) => Math.max(m, Math.abs(v)), peak);
          }
        }
        expect(worst).toBeLessThan(1e-4);
        // The tie check itself rejects a code that is not a tie.
        const samples = signal(8000, 8000);
        const expected = viaTfjs.encodeSamples(samples);
        const wrong = { ...expected, codes: expected.codes.slice() };
        wrong.codes[N] = (wrong.codes[N]! + 1) % tok.codebookSizes[0]!;
        expect(tieGaps(tok, samples, expected, wrong)[0]).toBeGreaterThan(1e-3);
        // Few ties, if any, in a few thousand codes.
        expect(ties).toBeLessThanOrEqual(Math.ceil(codes / 500));
        console.log(`audio ONNX parity (${c.name}): ${codes} codes, ${ties} tied frame(s), max |Δ audio| ${worst.toExponential(2)} (peak ${peak.toFixed(2)})`);
        expect(peak).toBeGreaterThan(0.05);
      } finally {
        for (const t of [tok, viaOnnx, viaTfjs]) t.dispose();
      }
    });
  }

  for (const [label, c] of [['SEANet encoder and decoder', cases[0]!], ['STFT encoder, iSTFT decoder', cases[2]!]] as const) {
    it(`chunked long signals (${label}): the ONNX path goes through the same chunks and cross-fades`, async () => {
      const tok = tinyTokenizer(c.config, 7);
      const dir = tempDir();
      await tok.save(dir);
      exportAudioTokenizerToOnnx(tok, path.join(dir, 'onnx'));
      const viaOnnx = await AudioTokenizer.load(dir);
      const viaTfjs = await AudioTokenizer.load(dir, { runtime: 'tfjs' });
      expect(viaOnnx.runtime).toBe('onnx');
      try {
        const samples = signal(3 * 8000 + 123, 99);
        const options = { chunkSeconds: 0.5 };
        const expected = viaTfjs.encodeSamples(samples, options);
        const got = await viaOnnx.encodeSamplesAsync(samples, options);
        // Chunking itself is exact (chunked = unchunked codes on TF.js); the ONNX codes equal them up to ties.
        expect(Array.from(viaTfjs.encodeSamples(samples).codes)).toEqual(Array.from(expected.codes));
        const mismatches = expected.codes.reduce((n, v, i) => n + (v === got.codes[i] ? 0 : 1), 0);
        expect(mismatches).toBeLessThanOrEqual(Math.ceil(expected.codes.length / 500));
        const ref = viaTfjs.decode(expected, options);
        const out = await viaOnnx.decodeAsync(expected, options);
        expect(maxAbsDiff(out, ref)).toBeLessThan(1e-4);
        // reconstruct runs both halves on ONNX Runtime.
        const rec = await viaOnnx.reconstruct({ samples, sampleRate: 8000 }, { ...options, levels: 2 });
        expect(rec.encoded.levels).toBe(2);
        expect(rec.output.length).toBe(samples.length);
        expect(maxAbsDiff(rec.output, viaTfjs.decode(rec.encoded, options))).toBeLessThan(1e-4);
      } finally {
        for (const t of [tok, viaOnnx, viaTfjs]) t.dispose();
      }
    });
  }

  it('every graph form (1-D/2-D layout, ConvTranspose or phase Conv) gives the same codes and audio', async () => {
    for (const c of [cases[0]!, cases[2]!, cases[3]!]) {
      const tok = tinyTokenizer(c.config);
      const samples = signal(4000, 5);
      const expected = tok.encodeSamples(samples);
      const reference = tok.decode(expected);
      for (const layout of ['1d', '2d'] as const) {
        for (const transposed of ['convtranspose', 'phases'] as const) {
          const dir = tempDir();
          writeAudioOnnxExport(dir, exportAudioModelToOnnx(tok.model, tok.id, { layout, transposed }));
          const runtime = await AudioOnnxRuntime.open(dir, tok.id);
          try {
            const padded = new Float32Array(expected.frames * tok.hopLength);
            padded.set(samples);
            const got = await runtime.encode(padded, [1, padded.length]);
            expect(Array.from(got.codes)).toEqual(Array.from(expected.codes));
            const out = await runtime.decode(expected.codes, [1, expected.frames, expected.levels]);
            expect(maxAbsDiff(out.samples.subarray(0, samples.length), reference)).toBeLessThan(1e-4);
          } finally {
            await runtime.release();
          }
        }
      }
      tok.dispose();
    }
  });

  it('the graphs have dynamic batch and length, opset 17, and batch rows are independent', async () => {
    const tok = tinyTokenizer(cases[0]!.config);
    const exported = exportAudioModelToOnnx(tok.model, tok.id);
    expect(exported.manifest).toMatchObject({ opset: 17, hop: 160, levels: 3, codebookSizes: [16, 16, 16], sampleRate: 8000 });
    const dims = (bytes: Uint8Array, which: 'input' | 'output') =>
      readOnnxModel(bytes).graph![which]![0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    expect(dims(exported.encoder, 'input')).toEqual(['batch', 'samples']);
    expect(dims(exported.encoder, 'output')).toEqual(['batch', 'frames', 3]);
    expect(dims(exported.decoder, 'input')).toEqual(['batch', 'frames', 'levels']);
    expect(dims(exported.decoder, 'output')).toEqual(['batch', 'samples']);
    const dir = tempDir();
    exportAudioTokenizerToOnnx(tok, dir);
    const runtime = await AudioOnnxRuntime.open(dir, tok.id);
    try {
      const a = signal(960, 1);
      const b = signal(960, 2);
      const both = new Float32Array(1920);
      both.set(a);
      both.set(b, 960);
      const batch = await runtime.encode(both, [2, 960]);
      expect(batch.shape).toEqual([2, 6, 3]);
      const single = await runtime.encode(b, [1, 960]);
      expect(Array.from(batch.codes.subarray(18))).toEqual(Array.from(single.codes));
      const decoded = await runtime.decode(batch.codes, [2, 6, 3]);
      expect(decoded.shape).toEqual([2, 960]);
      const one = await runtime.decode(single.codes, [1, 6, 3]);
      expect(maxAbsDiff(decoded.samples.subarray(960), one.samples)).toBeLessThan(1e-6);
      await expect(runtime.encode(a.subarray(0, 100), [1, 100])).rejects.toThrow(/multiple of 160/);
      await expect(runtime.decode(new Int32Array(24), [1, 6, 4])).rejects.toThrow(/1\.\.3 levels/);
    } finally {
      await runtime.release();
      tok.dispose();
    }
  });

  it('AudioTokenizer.load uses TF.js without an export or with a stale one, and says why', async () => {
    const dir = tempDir();
    const tok = tinyTokenizer(cases[0]!.config);
    await tok.save(dir);
    const none = await AudioTokenizer.load(dir);
    expect(none.runtime).toBe('tfjs');
    expect(none.runtimeDescription).toMatch(/no ONNX export/);
    await expect(AudioTokenizer.load(dir, { runtime: 'onnx' })).rejects.toThrow(FileFormatError);

    exportAudioTokenizerToOnnx(tok, path.join(dir, 'onnx'));
    const fresh = await AudioTokenizer.load(dir);
    expect(fresh.runtime).toBe('onnx');
    expect(fresh.runtimeDescription).toMatch(/^onnx \(ONNX Runtime, .*opset 17\)$/);

    // New weights make the export stale: auto falls back, 'onnx' refuses.
    const retrained = tinyTokenizer(cases[0]!.config, 4);
    await retrained.save(dir);
    const stale = await AudioTokenizer.load(dir);
    expect(stale.runtime).toBe('tfjs');
    expect(stale.runtimeDescription).toMatch(/re-run `vqkit export onnx`/);
    await expect(AudioTokenizer.load(dir, { runtime: 'onnx' })).rejects.toThrow(/was made from tokenizer/);

    // An image export in an audio tokenizer's directory is not used either.
    const manifestFile = path.join(dir, 'onnx', 'manifest.json');
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
    fs.writeFileSync(manifestFile, JSON.stringify({ ...manifest, format: 'vqkit.image-tokenizer-onnx', tokenizerId: retrained.id }));
    await expect(AudioTokenizer.load(dir, { runtime: 'onnx' })).rejects.toThrow(/not a vqkit audio tokenizer ONNX export/);
    for (const t of [tok, none, fresh, retrained, stale]) t.dispose();
  });
});
