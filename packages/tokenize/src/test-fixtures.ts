/** Test fixtures: a tiny untrained image tokenizer and the bundled Fashion-MNIST subset. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
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
