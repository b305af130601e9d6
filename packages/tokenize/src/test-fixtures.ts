/** Test fixtures: a tiny untrained image tokenizer and the bundled Fashion-MNIST subset. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AudioTokenizer, createAudioTokenizerConfig } from '@vqkit/audio';
import { createImageTokenizerConfig, ImageTokenizer } from '@vqkit/image';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** 1,000 Fashion-MNIST test images bundled with the examples. */
export const bundledIdx = path.join(repoRoot, 'examples/data/fashion-mnist/t10k-images-idx3-ubyte.gz');

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `vqkit-${prefix}-`));
}

/** Saves a small untrained 28×28 gray tokenizer (f=4, K=16) and returns its directory. */
export async function saveTinyTokenizer(dir: string, seed = 1): Promise<string> {
  const config = createImageTokenizerConfig({
    architecture: { hiddenChannels: 8, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 4 },
    quantizer: { type: 'vq', codebookSize: 16 },
  });
  const tokenizer = ImageTokenizer.create(config, { seed });
  await tokenizer.save(dir);
  tokenizer.dispose();
  return dir;
}

/** Saves a small untrained 8 kHz audio tokenizer (hop 160, 3 levels of K=16) and returns its directory. */
export function saveTinyAudioTokenizer(dir: string, seed = 1): string {
  const config = createAudioTokenizerConfig({
    architecture: { channels: 4, maxChannels: 8, latentDim: 8, strides: [2, 4, 4, 5] },
    quantizer: { levels: 3, codebookSize: 16 },
  });
  const tokenizer = AudioTokenizer.create(config, { seed });
  tokenizer.save(dir);
  tokenizer.dispose();
  return dir;
}
