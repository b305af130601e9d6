/** Builds the quantizer a config names. */
import { FiniteScalarQuantizer, type Quantizer, ResidualVectorQuantizer, VectorQuantizer } from '@vqkit/core';
import type { ImageQuantizerConfig } from './config.js';

/** A quantizer for `codeDim`-dimensional latents from its (validated) config section. */
export function createQuantizer(config: ImageQuantizerConfig, codeDim: number, seed: number): Quantizer {
  switch (config.type) {
    case 'vq': {
      const { type: _type, ...options } = config;
      return new VectorQuantizer({ ...options, dim: codeDim, seed });
    }
    case 'rvq': {
      const { type: _type, ...options } = config;
      return new ResidualVectorQuantizer({ ...options, dim: codeDim, seed });
    }
    case 'fsq':
      return new FiniteScalarQuantizer({ levels: config.levels, dim: codeDim, seed });
  }
}
