import { InvalidArgumentError } from '@vqkit/core';
import { describe, expect, it } from 'vitest';
import { validateImageTokenizerConfig } from '../model/config.js';
import { IMAGE_PRESET_NAMES, imagePreset } from './presets.js';

describe('image presets', () => {
  it('are valid configs with the benchmark architectures', () => {
    const grids: Record<string, number> = {};
    for (const name of IMAGE_PRESET_NAMES) {
      const preset = imagePreset(name);
      expect(preset.name).toBe(name);
      expect(validateImageTokenizerConfig(preset.config)).toEqual(preset.config);
      const { architecture, preprocessing, quantizer } = preset.config;
      expect([architecture.hiddenChannels, architecture.codeDim]).toEqual([128, 64]);
      expect(quantizer).toMatchObject({ type: 'vq', codebookSize: 512, kmeansInit: true });
      expect(preprocessing.channels).toBe(preset.data.channels);
      const sample = preset.data.cropSize ?? preprocessing.height;
      grids[name] = sample / architecture.downsampling;
    }
    // Fashion-MNIST 28×28 → 7×7 (f=4) and 14×14 (f=2); 64×64 photo crops → 16×16 and 8×8.
    expect(grids).toEqual({ 'fmnist-f4': 7, 'fmnist-f2': 14, 'kodak-f4': 16, 'kodak-f8': 8 });
  });

  it('returns independent copies and rejects unknown names with the list', () => {
    const a = imagePreset('fmnist-f4');
    a.config.architecture.hiddenChannels = 3;
    expect(imagePreset('fmnist-f4').config.architecture.hiddenChannels).toBe(128);
    expect(() => imagePreset('mnist')).toThrow(InvalidArgumentError);
    expect(() => imagePreset('mnist')).toThrow(/fmnist-f4, fmnist-f2, kodak-f4, kodak-f8/);
  });
});
