/** Builds the quantizer a config names. */
import { InvalidArgumentError, type Quantizer, VectorQuantizer } from '@vqkit/core';
import type { ImageQuantizerConfig } from './config.js';

/** A quantizer for `codeDim`-dimensional latents from its config section. */
export function createQuantizer(config: ImageQuantizerConfig, codeDim: number, seed: number): Quantizer {
  switch (config.type) {
    case 'vq': {
      const { type: _type, ...options } = config;
      return new VectorQuantizer({ ...options, dim: codeDim, seed });
    }
    case 'rvq':
    case 'fsq':
      throw new InvalidArgumentError(`quantizer type '${config.type}' is not available yet`);
  }
}
