import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerChecksumError, FileFormatError, InvalidArgumentError, TokenizerMismatchError } from '@vqkit/core';
import { audioCodeSpace, packAudioCodes, unpackAudioCodes } from './codes.js';
import { createAudioTokenizerConfig } from './model/config.js';
import { AudioTokenizer } from './tokenizer.js';
import { encodeWav } from './wav.js';

const config = createAudioTokenizerConfig({
  architecture: { channels: 4, maxChannels: 8, latentDim: 8, strides: [2, 4, 4, 5] },
  quantizer: { levels: 3, codebookSize: 16 },
});
let tokenizer: AudioTokenizer;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-audio-tokenizer-'));

beforeAll(async () => {
  await tf.setBackend('cpu');
  tokenizer = AudioTokenizer.create(config, { seed: 5 });
  // The iSTFT decoder starts quiet (ln|X| ≈ −4); a louder start makes the decode comparisons meaningful.
  const [, magnitudeBias] = tokenizer.model.namedVariables().find(([name]) => name === 'decoder.magnitude.bias')!;
  magnitudeBias.assign(tf.zerosLike(magnitudeBias));
});
afterAll(() => {
  tokenizer.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A stationary voiced-like signal: 150 Hz with harmonics. */
function harmonicTone(seconds: number, rate = 8000): Float32Array {
  return Float32Array.from({ length: Math.round(seconds * rate) }, (_, t) => {
    let v = 0;
    for (let h = 1; h <= 5; h++) v += (0.3 / h) * Math.sin((2 * Math.PI * 150 * h * t) / rate + h);
    return v;
  });
}

describe('AudioTokenizer', () => {
  it('chunked encoding gives the unchunked codes, and chunked decoding has no seams', () => {
    const x = harmonicTone(2.3);
    const whole = tokenizer.encodeSamples(x, { chunkSeconds: 100 });
    const chunked = tokenizer.encodeSamples(x, { chunkSeconds: 0.4 });
    expect(whole.frames).toBe(Math.ceil(x.length / 160));
    expect(chunked.codes).toEqual(whole.codes);
    const a = tokenizer.decode(whole, { chunkSeconds: 100 });
    const b = tokenizer.decode(whole, { chunkSeconds: 0.4 });
    expect(a.length).toBe(x.length);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    expect(maxDiff).toBeLessThan(1e-4);
    expect(a.some((v) => Math.abs(v) > 1e-3)).toBe(true);
  });

  it('selects levels by bitrate and handles silence, one-sample and empty inputs', () => {
    expect(tokenizer.bitrates).toEqual([200, 400, 600]);
    const low = tokenizer.encodeSamples(harmonicTone(0.1), { bitrate: 450 });
    expect(low.levels).toBe(2);
    expect(() => tokenizer.encodeSamples(harmonicTone(0.1), { bitrate: 100 })).toThrow(InvalidArgumentError);
    const silence = tokenizer.decode(tokenizer.encodeSamples(new Float32Array(800)));
    expect(silence.length).toBe(800);
    expect(silence.every(Number.isFinite)).toBe(true);
    const one = tokenizer.encodeSamples(Float32Array.of(0.5));
    expect([one.frames, one.length]).toEqual([1, 1]);
    expect(tokenizer.decode(one).length).toBe(1);
    const empty = tokenizer.encodeSamples(new Float32Array(0));
    expect(empty.frames).toBe(0);
    expect(tokenizer.decode(empty).length).toBe(0);
  });

  it('reads any WAV (16 kHz stereo here) at the model rate, and reports non-WAV or truncated input', async () => {
    const stereo = [harmonicTone(0.5, 16000), harmonicTone(0.5, 16000).map((v) => -v * 0.5)];
    const file = path.join(tmp, 'stereo16k.wav');
    fs.writeFileSync(file, encodeWav(stereo, { sampleRate: 16000, format: 'pcm16' }));
    const { input, output, encoded } = await tokenizer.reconstruct(file);
    expect(input.length).toBe(4000);
    expect(output.length).toBe(4000);
    expect(encoded.frames).toBe(25);
    // Clipped float audio beyond full scale at 44.1 kHz: clamped, resampled, encoded.
    const hot = path.join(tmp, 'hot44k.wav');
    fs.writeFileSync(hot, encodeWav(harmonicTone(0.2, 44100).map((v) => Math.max(-0.9, Math.min(0.9, 4 * v))), { sampleRate: 44100, format: 'float32' }));
    const clipped = await tokenizer.reconstruct(hot);
    expect(clipped.input.length).toBe(1600);
    expect(Math.max(...clipped.input.map(Math.abs))).toBeLessThanOrEqual(1);
    expect(clipped.output.every(Number.isFinite)).toBe(true);
    const notWav = path.join(tmp, 'notes.wav');
    fs.writeFileSync(notWav, 'hello, not a RIFF file');
    await expect(tokenizer.encode(notWav)).rejects.toThrow(FileFormatError);
    const truncated = path.join(tmp, 'truncated.wav');
    fs.writeFileSync(truncated, fs.readFileSync(file).subarray(0, 30));
    await expect(tokenizer.encode(truncated)).rejects.toThrow(FileFormatError);
  });

  it('saves and loads to the same id and the same codes; packs codes into an audio container', async () => {
    const dir = path.join(tmp, 'tok');
    const id = tokenizer.save(dir);
    const loaded = await AudioTokenizer.load(dir);
    expect(loaded.id).toBe(id);
    const x = harmonicTone(0.77);
    const encoded = loaded.encodeSamples(x, { levels: 2 });
    expect(encoded.codes).toEqual(tokenizer.encodeSamples(x, { levels: 2 }).codes);
    const space = audioCodeSpace(loaded);
    const packed = packAudioCodes(encoded, space);
    const { codes, header } = unpackAudioCodes(packed.bytes, space);
    expect(header.modality).toBe('audio');
    expect(header.codebookSizes).toEqual([16, 16]);
    expect(codes).toEqual(encoded);
    expect(loaded.decode(codes).length).toBe(x.length);
    const damaged = packed.bytes.slice();
    damaged[damaged.length - 6]! ^= 0xff;
    expect(() => unpackAudioCodes(damaged, space)).toThrow(ContainerChecksumError);
    expect(() => unpackAudioCodes(packed.bytes, { ...space, tokenizerId: '0123456789abcdef' })).toThrow(TokenizerMismatchError);
    loaded.dispose();
    fs.writeFileSync(path.join(dir, 'config.json'), '{"format":"vqkit.audio-tokenizer"');
    await expect(AudioTokenizer.load(dir)).rejects.toThrow(FileFormatError);
  });
});
