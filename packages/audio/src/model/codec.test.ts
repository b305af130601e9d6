import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@vqkit/core';
import { AudioCodec, istft, receptiveField } from './codec.js';
import { availableBitrates, bitrate, createAudioTokenizerConfig, formatBitrate, frameRate, levelsForBitrate, parseBitrate, validateAudioTokenizerConfig } from './config.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const tiny = createAudioTokenizerConfig({
  architecture: { channels: 4, maxChannels: 8, latentDim: 8, strides: [2, 4, 4, 5] },
  quantizer: { levels: 3, codebookSize: 16 },
});

describe('audio tokenizer config', () => {
  it('reports bitrate = frame rate × levels × log2 K', () => {
    const config = createAudioTokenizerConfig();
    expect(frameRate(config)).toBe(50);
    expect(bitrate(config)).toBe(50 * 6 * 8);
    expect(availableBitrates(config)).toEqual([400, 800, 1200, 1600, 2000, 2400]);
    expect(levelsForBitrate(config, parseBitrate('1.6k'))).toBe(4);
    expect(levelsForBitrate(config, 1999)).toBe(4);
    expect(levelsForBitrate(config, 1e6)).toBe(6);
    expect(() => levelsForBitrate(config, 300)).toThrow(/below this model's lowest \(400 bit\/s\)/);
    expect(parseBitrate('2.4kbps')).toBe(2400);
    expect(parseBitrate('600')).toBe(600);
    expect(() => parseBitrate('fast')).toThrow(InvalidArgumentError);
    expect(formatBitrate(1600)).toBe('1.6 kbit/s');
  });

  it('rejects malformed configs with the field name', () => {
    const bad = JSON.parse(JSON.stringify(tiny));
    bad.architecture.kernelSize = 4;
    expect(() => validateAudioTokenizerConfig(bad)).toThrow(/kernelSize must be odd/);
    expect(() => validateAudioTokenizerConfig({ ...tiny, format: 'vqkit.image-tokenizer' })).toThrow(/not an audio tokenizer/);
    expect(() => createAudioTokenizerConfig({ quantizer: { levels: 0 } })).toThrow(/quantizer.levels/);
  });
});

describe('AudioCodec', () => {
  it('maps T samples to ceil(T / hop) frames of codes and back to whole frames of audio', () => {
    const model = new AudioCodec(tiny, { seed: 1 });
    const x = tf.randomNormal([2, 1000], 0, 0.1);
    const codes = model.encode(x);
    expect(codes.shape).toEqual([2, 7, 3]);
    expect(model.encode(x, 2).shape).toEqual([2, 7, 2]);
    const y = model.decode(codes);
    expect(y.shape).toEqual([2, 7 * 160]);
    const out = model.forward(x, { levels: 1 });
    expect(out.reconstruction.shape).toEqual([2, 1120]);
    tf.dispose([x, codes, y, out.reconstruction, out.codes, out.quantizerLoss, out.perplexity]);
    model.dispose();
  });

  for (const [encoder, decoder] of [['stft', 'istft'], ['waveform', 'waveform'], ['waveform', 'istft']] as const) {
  it(`receptiveField bounds how far a change in the input or in one code frame reaches (${encoder} encoder, ${decoder} decoder)`, () => {
    const config = createAudioTokenizerConfig({ ...tiny, architecture: { ...tiny.architecture, encoder, decoder } });
    const model = new AudioCodec(config, { seed: 2 });
    if (decoder === 'waveform') {
      // The waveform decoder's output layer starts at zero (silent); give it weights so changes propagate.
      const [, outputWeight] = model.namedVariables().find(([name]) => name === 'decoder.output.weight')!;
      outputWeight.assign(tf.randomNormal(outputWeight.shape, 0, 0.3, 'float32', 4));
    }
    const hop = model.hop;
    const rf = receptiveField(config);
    const n = 160 * 40;
    const base = tf.randomNormal([1, n], 0, 0.1, 'float32', 3);
    const t0 = 3200;
    const bumped = tf.add(base, tf.oneHot([t0], n).cast('float32').mul(0.5));
    const za = model.encodeLatents(base).arraySync()[0]!;
    const zb = model.encodeLatents(bumped).arraySync()[0]!;
    const changed = za.map((f, j) => f.some((v, c) => v !== zb[j]![c])).flatMap((d, j) => (d ? [j] : []));
    expect(changed.length).toBeGreaterThan(0);
    for (const j of changed) {
      // Frame j covers samples [j·hop, (j+1)·hop); it may only see t0 through the receptive field.
      expect(Math.max(j * hop - t0, t0 - ((j + 1) * hop - 1))).toBeLessThanOrEqual(rf.encoder);
    }
    const codes = model.encode(base);
    const data = codes.arraySync() as number[][][];
    data[0]![20]![0] = (data[0]![20]![0]! + 1) % 16;
    const ya = model.decode(codes).dataSync();
    const yb = model.decode(tf.tensor3d(data, undefined, 'int32')).dataSync();
    let first = -1;
    let last = -1;
    for (let t = 0; t < n; t++) {
      if (ya[t] !== yb[t]) {
        if (first < 0) first = t;
        last = t;
      }
    }
    expect(first).toBeGreaterThanOrEqual(0);
    expect(20 * hop - first).toBeLessThanOrEqual(rf.decoder);
    expect(last - (21 * hop - 1)).toBeLessThanOrEqual(rf.decoder);
    tf.dispose([base, bumped, codes]);
    model.dispose();
  });
  }

  it('istft inverts a Hann-windowed STFT whose frame f starts at f·hop − (nFft − hop)/2', () => {
    const [nFft, hop, frames] = [16, 4, 12];
    const n = frames * hop;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(0.7 * i) + 0.3 * Math.cos(2.1 * i + 1));
    const bins = nFft / 2 + 1;
    const re = new Float32Array(frames * bins);
    const im = new Float32Array(frames * bins);
    for (let f = 0; f < frames; f++) {
      for (let k = 0; k < bins; k++) {
        for (let j = 0; j < nFft; j++) {
          const t = f * hop - (nFft - hop) / 2 + j;
          const v = t >= 0 && t < n ? x[t]! * (0.5 - 0.5 * Math.cos((2 * Math.PI * j) / nFft)) : 0;
          re[f * bins + k] += v * Math.cos((2 * Math.PI * k * j) / nFft);
          im[f * bins + k] -= v * Math.sin((2 * Math.PI * k * j) / nFft);
        }
      }
    }
    const y = istft(tf.tensor3d(re, [1, frames, bins]), tf.tensor3d(im, [1, frames, bins]), nFft, hop).dataSync();
    expect(y.length).toBe(n);
    for (let t = 0; t < n; t++) expect(y[t]!).toBeCloseTo(x[t]!, 4);
  });
});
