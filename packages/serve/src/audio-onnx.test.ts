import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '@vqkit/core';
import { AudioTokenizer, createAudioTokenizerConfig, decodeWav, encodeWav, exportAudioTokenizerToOnnx } from '@vqkit/audio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelDirectory } from './load.js';
import { createServer, type VqkitServer } from './server.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-serve-audio-onnx-'));
let server: VqkitServer;
let base: string;
let reference: AudioTokenizer;

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
  const dir = path.join(root, 'speech');
  const tok = AudioTokenizer.create(
    createAudioTokenizerConfig({ architecture: { channels: 4, maxChannels: 8, latentDim: 8, strides: [4, 4] }, quantizer: { levels: 2, codebookSize: 16, kmeansInit: false } }),
    { seed: 2 },
  );
  // Untrained decoders are near-silent (zero output conv / log-magnitudes at −4): make the output audible.
  for (const [name, variable] of tok.model.namedVariables()) {
    if (name === 'decoder.output.weight') variable.assign(tf.randomNormal(variable.shape, 0, 0.05, 'float32', 1));
    if (name === 'decoder.magnitude.bias') variable.assign(tf.fill(variable.shape, -1));
  }
  tok.save(dir);
  exportAudioTokenizerToOnnx(tok, path.join(dir, 'onnx'));
  tok.dispose();
  const model = await loadModelDirectory({ dir });
  expect((model.tokenizer as AudioTokenizer).runtime).toBe('onnx');
  server = createServer({ models: [model] });
  base = await server.listen({ port: 0 });
  reference = await AudioTokenizer.load(dir, { runtime: 'tfjs' });
});

afterAll(async () => {
  await server.close();
  reference.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('serving an audio tokenizer directory with an ONNX export', () => {
  it('encodes and decodes on ONNX Runtime with the TF.js codes and audio', async () => {
    const samples = Float32Array.from({ length: 2000 }, (_, t) => 0.3 * Math.sin((2 * Math.PI * (200 + t / 8) * t) / 8000));
    const post = async (body: unknown) => (await (await fetch(`${base}/v1/models/speech:predict`, { method: 'POST', body: JSON.stringify(body) })).json()) as Record<string, any>;
    const encoded = await post({ signature_name: 'encode', instances: [{ audio: { b64: encodeWav(samples, { sampleRate: 8000 }).toString('base64') } }] });
    const expected = reference.encodeSamples(decodeWav(encodeWav(samples, { sampleRate: 8000 })).channels[0]!);
    expect(encoded.predictions[0].codes.flat()).toEqual(Array.from(expected.codes));
    const decoded = await post({ signature_name: 'decode', instances: [{ codes: encoded.predictions[0].codes, samples: expected.length }] });
    const audio = decodeWav(Buffer.from(decoded.predictions[0].audio.b64, 'base64')).channels[0]!;
    const tfjs = decodeWav(encodeWav(reference.decode(expected).map((v) => Math.max(-1, Math.min(1, v))), { sampleRate: 8000 })).channels[0]!;
    expect(audio.length).toBe(tfjs.length);
    expect(Math.max(...tfjs.map(Math.abs))).toBeGreaterThan(0.01);
    // 16-bit WAVs of two decodes within 1e-4: equal or one quantisation step apart.
    for (let i = 0; i < audio.length; i++) expect(Math.abs(audio[i]! - tfjs[i]!)).toBeLessThanOrEqual(1 / 32768 + 1e-6);
  });
});
