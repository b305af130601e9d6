// Class-conditional prior on real data, without a trained tokenizer: each
// Fashion-MNIST image becomes a 7x7 grid of "codes" (4x4 average pooling,
// quantized to 8 grey levels), and a small GPT prior learns p(grid | class).
// Prints validation bits per token / per pixel against the unigram entropy of
// the codes, training and sampling throughput, and whether class-conditioned
// samples look like their class (nearest class-centroid accuracy; 10% = chance).
// Run after the build:
//   npx tsc -b && node bench/prior-fmnist.mjs [--backend vqkit-cpu] [--train 6000] [--steps 300]
import fs from 'node:fs';
import os from 'node:os';
import zlib from 'node:zlib';
import path from 'node:path';
import { initEngine } from '../packages/core/dist/index.js';
import { PriorModel, createVocabulary, imageCodesToSequence, samplePrior, trainPrior } from '../packages/prior/dist/index.js';

const CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const LEVELS = 8;
const GRID = 7;

function parseArgs(argv) {
  const opts = { backend: 'auto', train: 6000, val: 1000, steps: 300, batch: 32, samples: 10, dataDir: '/usr/share/datasets/fashion-mnist' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => argv[++i];
    if (arg === '--backend') opts.backend = next();
    else if (arg === '--train') opts.train = Number(next());
    else if (arg === '--val') opts.val = Number(next());
    else if (arg === '--steps') opts.steps = Number(next());
    else if (arg === '--batch') opts.batch = Number(next());
    else if (arg === '--samples') opts.samples = Number(next());
    else if (arg === '--data') opts.dataDir = next();
    else throw new Error(`unknown option ${arg}`);
  }
  return opts;
}

function readIdx(file) {
  const bytes = zlib.gunzipSync(fs.readFileSync(file));
  const dims = bytes[3];
  const shape = Array.from({ length: dims }, (_, i) => bytes.readUInt32BE(4 + 4 * i));
  return { shape, data: bytes.subarray(4 + 4 * dims) };
}

/** 28x28 bytes → 7x7 codes in [0, LEVELS). */
function toCodes(pixels, offset) {
  const codes = new Int32Array(GRID * GRID);
  for (let r = 0; r < GRID; r++) {
    for (let c = 0; c < GRID; c++) {
      let sum = 0;
      for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) sum += pixels[offset + (r * 4 + y) * 28 + c * 4 + x];
      codes[r * GRID + c] = Math.min(LEVELS - 1, Math.floor((sum / 16) * (LEVELS / 256)));
    }
  }
  return codes;
}

function load(dir, split, limit) {
  const images = readIdx(path.join(dir, `${split}-images-idx3-ubyte.gz`));
  const labels = readIdx(path.join(dir, `${split}-labels-idx1-ubyte.gz`));
  const n = Math.min(limit, images.shape[0]);
  return Array.from({ length: n }, (_, i) => ({ codes: toCodes(images.data, i * 784), label: labels.data[i] }));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(path.join(opts.dataDir, 'train-images-idx3-ubyte.gz'))) {
    console.log(`Fashion-MNIST not found in ${opts.dataDir}; skipping`);
    return;
  }
  const engine = await initEngine({ backend: opts.backend });
  console.log(`engine: ${engine.description}`);
  const train = load(opts.dataDir, 'train', opts.train);
  const val = load(opts.dataDir, 't10k', opts.val);
  const vocabulary = createVocabulary({ codebookSize: LEVELS, numClasses: 10 });
  const grid = { height: GRID, width: GRID };
  const toSeq = (ex) => imageCodesToSequence(ex.codes, grid, { vocabulary, classIndex: ex.label });

  // Baseline: unigram entropy of the codes (what a per-symbol static model would get).
  const counts = new Float64Array(LEVELS);
  for (const ex of train) for (const c of ex.codes) counts[c]++;
  const total = counts.reduce((a, b) => a + b, 0);
  const unigram = -counts.reduce((h, n) => (n > 0 ? h + (n / total) * Math.log2(n / total) : h), 0);

  const t0 = performance.now();
  const report = await trainPrior({
    model: { vocabulary, nPositions: GRID * GRID + 1, nEmbd: 64, nLayer: 2, nHead: 4, seed: 0 },
    metadata: { modality: 'image', grid, tokenizer: `fmnist-avgpool4-${LEVELS}levels`, classNames: CLASS_NAMES, tokensPerPixel: (GRID * GRID) / 784 },
    train: train.map(toSeq),
    validation: val.map(toSeq),
    steps: opts.steps,
    batchSize: opts.batch,
    learningRate: 3e-3,
    evalEvery: Math.max(1, Math.floor(opts.steps / 3)),
    onProgress: (p) => {
      if (p.validation) console.log(`step ${p.step}/${p.totalSteps}: train ${p.bitsPerToken.toFixed(3)} bits/token, val ${p.validation.bitsPerToken.toFixed(3)} bits/token, ${p.tokensPerSecond.toFixed(0)} tokens/s`);
    },
  });
  const prior = report.model;
  console.log(
    `trained ${report.parameterCount} params in ${((performance.now() - t0) / 1000).toFixed(0)} s (${report.tokensPerSecond.toFixed(0)} tokens/s); ` +
      `val ${report.validation.bitsPerToken.toFixed(3)} bits/token = ${report.validation.bitsPerPixel.toFixed(4)} bits/pixel; unigram entropy ${unigram.toFixed(3)} bits/token`,
  );

  // Class centroids of the training codes; classify samples by the nearest one.
  const centroids = Array.from({ length: 10 }, () => new Float64Array(GRID * GRID));
  const perClass = new Float64Array(10);
  for (const ex of train) {
    perClass[ex.label]++;
    ex.codes.forEach((c, i) => (centroids[ex.label][i] += c));
  }
  centroids.forEach((m, k) => m.forEach((_, i) => (m[i] /= Math.max(1, perClass[k]))));
  const nearest = (codes) => {
    let best = 0;
    let bestD = Infinity;
    centroids.forEach((m, k) => {
      let d = 0;
      for (let i = 0; i < m.length; i++) d += (codes[i] - m[i]) ** 2;
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    });
    return best;
  };
  const realAccuracy = val.filter((ex) => nearest(ex.codes) === ex.label).length / val.length;
  let correct = 0;
  const s0 = performance.now();
  for (let k = 0; k < 10; k++) {
    const samples = samplePrior(prior, { count: opts.samples, className: CLASS_NAMES[k], seed: k, temperature: 1 });
    for (const s of samples) if (nearest(s.codes) === k) correct++;
  }
  const seconds = (performance.now() - s0) / 1000;
  console.log(
    `class-conditioned samples: nearest-centroid accuracy ${((100 * correct) / (10 * opts.samples)).toFixed(0)}% (chance 10%, real validation images ${(100 * realAccuracy).toFixed(0)}%); ` +
      `sampling ${((10 * opts.samples * GRID * GRID) / seconds).toFixed(0)} tokens/s`,
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-prior-fmnist-'));
  prior.save(dir);
  const reloaded = PriorModel.load(dir);
  const [again] = samplePrior(reloaded, { className: 'Sneaker', seed: 7 });
  const [orig] = samplePrior(prior, { className: 'Sneaker', seed: 7 });
  console.log(`save/load: same sneaker sample after reload: ${again.codes.every((c, i) => c === orig.codes[i])}`);
  fs.rmSync(dir, { recursive: true, force: true });
  reloaded.dispose();
  prior.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
