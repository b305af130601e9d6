import { initEngine } from '@vqkit/core';
import { AudioTokenizer, audioCodeSpace, createAudioTokenizerConfig, decodeWav, encodeWav, toMono, unpackAudioCodes } from '@vqkit/audio';
import { createVocabulary, GPT, PriorModel, samplePrior } from '@vqkit/prior';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type VqkitServer } from './server.js';

let tokenizer: AudioTokenizer;
let prior: PriorModel;
let server: VqkitServer;
let base: string;
let wav: Buffer;

/** 0.25 s of a stereo 16 kHz chirp: the server downmixes and resamples it to the model's 8 kHz. */
function testWav(seconds = 0.25, sampleRate = 16_000): Buffer {
  const n = Math.round(seconds * sampleRate);
  const left = new Float32Array(n);
  const right = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    left[i] = 0.4 * Math.sin((2 * Math.PI * (200 + i / 20) * i) / sampleRate);
    right[i] = 0.2 * Math.sin((2 * Math.PI * 330 * i) / sampleRate);
  }
  return encodeWav([left, right], { sampleRate });
}

async function post(body: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const response = await fetch(`${base}/v1/models/speech:predict`, { method: 'POST', body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
  tokenizer = AudioTokenizer.create(
    createAudioTokenizerConfig({ architecture: { channels: 4, maxChannels: 8, latentDim: 8, strides: [2, 4, 4, 5] }, quantizer: { levels: 2, codebookSize: 16 } }),
    { seed: 5 },
  );
  const vocabulary = createVocabulary({ codebookSize: 16, levels: 2, numClasses: 2 });
  prior = new PriorModel(new GPT({ vocabulary, nPositions: 21, nEmbd: 8, nLayer: 1, nHead: 2, seed: 2 }), { modality: 'audio', audioPattern: 'flatten', classNames: ['zero', 'one'] });
  server = createServer({ models: [{ name: 'speech', tokenizer, prior }], limits: { maxAudioSeconds: 1 } });
  base = await server.listen({ port: 0 });
  wav = testWav();
});

afterAll(async () => {
  await server.close();
  tokenizer.dispose();
  prior.dispose();
});

/** What the tokenizer itself makes of the test WAV. */
async function referenceCodes(levels?: number) {
  const decoded = decodeWav(wav);
  return tokenizer.encode({ samples: toMono(decoded.channels), sampleRate: decoded.sampleRate }, { levels });
}

describe('audio tokenizer signatures', () => {
  it('lists the audio signatures in the metadata', async () => {
    const json = (await (await fetch(`${base}/v1/models/speech/metadata`)).json()) as Record<string, any>;
    const defs = json.metadata.signature_def.signature_def;
    expect(Object.keys(defs).sort()).toEqual(['compress', 'decode', 'decompress', 'encode', 'generate', 'serving_default']);
    expect(Object.keys(defs.serving_default.inputs)).toEqual(['audio', 'levels', 'bitrate']);
    expect(defs.serving_default.outputs.compressed.dtype).toBe('DT_STRING');
  });

  it('compresses a WAV into a container of the tokenizer codes, and decompresses it to their WAV', async () => {
    const compressed = await post({ instances: [{ audio: { b64: wav.toString('base64') } }] });
    expect(compressed.status).toBe(200);
    const prediction = compressed.json.predictions[0];
    const reference = await referenceCodes();
    const unpacked = unpackAudioCodes(new Uint8Array(Buffer.from(prediction.compressed, 'base64')), audioCodeSpace(tokenizer));
    expect(Array.from(unpacked.codes.codes)).toEqual(Array.from(reference.codes));
    expect(prediction.shape).toEqual([reference.frames, 2]);
    expect(prediction.codes.flat()).toEqual(Array.from(reference.codes));
    expect(prediction.sample_rate).toBe(8000);

    const decompressed = await post({ signature_name: 'decompress', inputs: { compressed: [prediction.compressed] } });
    expect(decompressed.status).toBe(200);
    const expectedWav = encodeWav(tokenizer.decode(reference).map((v) => Math.max(-1, Math.min(1, v))), { sampleRate: 8000 });
    expect(Buffer.from(decompressed.json.outputs.audio[0].b64, 'base64').equals(expectedWav)).toBe(true);
    expect(decompressed.json.outputs.samples[0]).toBe(reference.length);
  });

  it('encodes with fewer levels and decodes codes back to a WAV', async () => {
    const encoded = await post({ signature_name: 'encode', instances: [{ audio: wav.toString('base64'), levels: 1 }] });
    expect(encoded.status).toBe(200);
    const { codes, shape, samples } = encoded.json.predictions[0];
    const reference = await referenceCodes(1);
    expect(shape).toEqual([reference.frames, 1]);
    expect(codes.flat()).toEqual(Array.from(reference.codes));
    const decoded = await post({ signature_name: 'decode', instances: [{ codes, samples }] });
    expect(decoded.status).toBe(200);
    const audio = decodeWav(Buffer.from(decoded.json.predictions[0].audio.b64, 'base64'));
    expect(audio.sampleRate).toBe(8000);
    expect(audio.channels[0]!.length).toBe(reference.length);
  });

  it('generates audio from the prior, reproducibly by seed', async () => {
    const r = await post({ signature_name: 'generate', instances: [{ class: 'one', seed: 3, frames: 4 }] });
    expect(r.status).toBe(200);
    const [sample] = samplePrior(prior, { classIndex: 1, seed: 3, frames: 4 });
    expect(r.json.predictions[0].shape).toEqual([4, 2]);
    expect(r.json.predictions[0].codes.flat()).toEqual(Array.from(sample!.codes));
    expect(decodeWav(Buffer.from(r.json.predictions[0].audio.b64, 'base64')).channels[0]!.length).toBe(4 * tokenizer.hopLength);
  });

  it('answers bad audio with 400 and too long audio with 413', async () => {
    expect((await post({ instances: [Buffer.from('RIFF....WAVEjunk').toString('base64')] })).status).toBe(400);
    expect((await post({ instances: [{ audio: wav.toString('base64'), levels: 3 }] })).status).toBe(400);
    expect((await post({ signature_name: 'decode', instances: [{ codes: [[1, 2, 3]] }] })).status).toBe(400);
    expect((await post({ instances: [testWav(1.5, 8000).toString('base64')] })).status).toBe(413);
    expect((await post({ signature_name: 'generate', instances: [{ frames: 1000 }] })).status).toBe(413);
    const long = await post({ instances: [testWav(0.9, 8000).toString('base64')] });
    expect(long.status).toBe(200);
  });
});
