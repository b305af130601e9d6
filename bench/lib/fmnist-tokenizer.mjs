// The Fashion-MNIST image tokenizer the prior benchmark models: the image
// benchmark's (bench/results/tokenizers/fmnist-f4/) when it exists, else a
// small f=4 tokenizer trained here once (a few minutes) and kept in
// bench/results/tokenizers/fmnist-f4-small/.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainImageTokenizer } from '../../packages/image/dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const TOKENIZERS_DIR = path.resolve(here, '../results/tokenizers');

const isTokenizer = (dir) => fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'model.safetensors'));

/**
 * Directory of a trained Fashion-MNIST tokenizer. `dataDir` holds the IDX
 * files; `preferred` overrides the search (a tokenizer directory).
 */
export async function ensureFmnistTokenizer({ dataDir, preferred, steps = 2000, log = console.log } = {}) {
  if (preferred) {
    if (!isTokenizer(preferred)) throw new Error(`${preferred} is not a tokenizer directory`);
    return { dir: preferred, trainedHere: false };
  }
  const reference = path.join(TOKENIZERS_DIR, 'fmnist-f4');
  if (isTokenizer(reference)) return { dir: reference, trainedHere: false };
  const small = path.join(TOKENIZERS_DIR, 'fmnist-f4-small');
  if (isTokenizer(small)) return { dir: small, trainedHere: false };
  log(`no Fashion-MNIST tokenizer in ${TOKENIZERS_DIR}; training a small one (${steps} steps) into ${small}`);
  const t0 = performance.now();
  const result = await trainImageTokenizer({
    dataset: {
      source: { kind: 'idx', images: path.join(dataDir, 'train-images-idx3-ubyte.gz'), labels: path.join(dataDir, 'train-labels-idx1-ubyte.gz') },
      validation: { kind: 'idx', images: path.join(dataDir, 't10k-images-idx3-ubyte.gz'), limit: 500 },
    },
    outputDir: small,
    config: {
      architecture: { downsampling: 4, hiddenChannels: 32, residualBlocks: 1, residualHiddenChannels: 16, codeDim: 32 },
      quantizer: { type: 'vq', codebookSize: 256 },
    },
    steps,
    batchSize: 64,
    learningRate: 2e-3,
    maxValidationImages: 500,
    resume: true,
    onValidation: (v) => log(`  tokenizer step ${v.step}: validation PSNR ${v.psnr.toFixed(2)} dB, codebook perplexity ${v.perplexity.map((p) => p.toFixed(0)).join('/')}`),
  });
  log(`  trained in ${((performance.now() - t0) / 1000).toFixed(0)} s; validation PSNR ${result.validation?.psnr.toFixed(2)} dB`);
  return { dir: result.tokenizerDir, trainedHere: true, psnr: result.validation?.psnr };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { initEngine } = await import('../../packages/core/dist/index.js');
  const engine = await initEngine({});
  console.log(`engine: ${engine.description}`);
  const dataDir = process.env.VQKIT_FMNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
  const { dir } = await ensureFmnistTokenizer({ dataDir, steps: Number(process.argv[2] ?? 2000) });
  console.log(dir);
}
