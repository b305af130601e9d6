import { initEngine, readContainerHeader } from '@vqkit/core';
import { compressImage, createImageTokenizerConfig, decompressImage, ImageTokenizer, type ImageF32 } from '@vqkit/image';
import { createVocabulary, GPT, PriorModel, priorEntropyModel } from '@vqkit/prior';
import { beforeAll, describe, expect, it } from 'vitest';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

function image(seed: number): ImageF32 {
  const data = Float32Array.from({ length: 16 * 16 }, (_, i) => 0.5 + 0.5 * Math.sin((i % 16) / (2 + seed) + Math.floor(i / 16) / 3));
  return { data, width: 16, height: 16, channels: 1 };
}

describe('image compression with the Transformer prior as entropy model', () => {
  it('round-trips through compressImage/decompressImage, and a file coded with a prior needs that prior', async () => {
    const tokenizer = ImageTokenizer.create(
      createImageTokenizerConfig({
        architecture: { downsampling: 4, hiddenChannels: 8, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 4 },
        preprocessing: { height: 16, width: 16, channels: 1 },
        quantizer: { type: 'vq', codebookSize: 16, kmeansInit: false },
      }),
      { seed: 2 },
    );
    const vocabulary = createVocabulary({ codebookSize: 16 });
    const prior = new PriorModel(new GPT({ vocabulary, nPositions: 17, nEmbd: 16, nLayer: 1, nHead: 2, seed: 1, initializerRange: 0.5 }), { modality: 'image' });
    const spec = priorEntropyModel(prior);
    const c = await compressImage(image(1), tokenizer, { entropyModel: 'prior', prior: spec });
    expect(readContainerHeader(c.bytes).entropyModel).toBe('external');
    const d = await decompressImage(c.bytes, tokenizer, { prior: spec });
    expect(Array.from(d.codes.codes)).toEqual(Array.from(c.codes.codes));
    await expect(decompressImage(c.bytes, tokenizer)).rejects.toThrow(/priorEntropyModel/);
    const other = priorEntropyModel(new GPT({ vocabulary, nPositions: 17, nEmbd: 16, nLayer: 1, nHead: 2, seed: 9 }));
    await expect(decompressImage(c.bytes, tokenizer, { prior: other })).rejects.toThrow(/entropy model mismatch/);
    // 'auto' tries the prior too and keeps the smallest file.
    const auto = await compressImage(image(1), tokenizer, { prior: spec });
    expect(auto.stats.candidates.map((x) => x.entropyModel)).toContain('external');
    expect(auto.bytes.length).toBeLessThanOrEqual(c.bytes.length);
    spec.dispose();
    other.dispose();
    prior.dispose();
    tokenizer.dispose();
  });
});
