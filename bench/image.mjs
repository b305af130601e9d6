// Image tokenizer quality: trains a preset within a time budget and measures
// the reconstructions on held-out data.
//
//   fmnist-f4 / fmnist-f2: Fashion-MNIST train (60k) → test set (10k): PSNR,
//                          codebook usage and perplexity over all test codes.
//   kodak-f4 / kodak-f8:   random 64×64 crops of kodim01–12 → full kodim13–24:
//                          PSNR and bits per pixel (fixed-length codes and the
//                          best container the compression module writes).
//
// Trained tokenizers are kept in bench/results/tokenizers/<config>[-ablation]/
// so other benchmarks (compression, prior) can reuse them.
//
//   pnpm bench image --config fmnist-f4 --minutes 15
//   pnpm bench image --config fmnist-f4 --minutes 15 --ablation    (no k-means init, no restarts)
//   pnpm bench image --config kodak-f8 --eval-only                 (re-measure a saved tokenizer)
//   options: --steps N (instead of the time budget), --lr, --batch, --decay, --restart-threshold,
//            --seed, --backend, --threads, --fmnist DIR, --kodak DIR, --max-test N
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initEngine } from '../packages/core/dist/index.js';
import { benchOptions, dataRoot, FMNIST_DIRS, repoRoot, resultsDir, writeResult } from './lib/common.mjs';
import {
  ImageDataset,
  ImageTokenizer,
  evaluateReconstruction,
  imageCodeSpace,
  imagePreset,
  loadImage,
  packImageCodes,
  psnr,
  trainImageTokenizer,
} from '../packages/image/dist/index.js';

const CONFIGS = ['fmnist-f4', 'fmnist-f2', 'kodak-f4', 'kodak-f8'];

function parseOptions() {
  const opts = benchOptions(import.meta.url, {
    config: { type: 'string', default: 'fmnist-f4' },
    minutes: { type: 'number', default: 15 },
    steps: { type: 'integer' },
    ablation: { type: 'boolean', default: false },
    evalOnly: { type: 'boolean', default: false },
    lr: { type: 'number' },
    batch: { type: 'integer' },
    decay: { type: 'number' },
    restartThreshold: { type: 'number' },
    seed: { type: 'number', default: 0 },
    backend: { type: 'string', default: 'auto' },
    threads: { type: 'integer' },
    fmnist: { type: 'string', default: FMNIST_DIRS[0] },
    kodak: { type: 'string', default: path.join(dataRoot, 'images/kodak') },
    maxTest: { type: 'integer' },
    out: { type: 'string' },
  });
  if (!CONFIGS.includes(opts.config)) throw new Error(`--config must be one of ${CONFIGS.join(', ')}`);
  if (!(opts.minutes > 0)) throw new Error('--minutes must be > 0');
  return opts;
}

const kodakName = (i) => `kodim${String(i).padStart(2, '0')}.png`;

/** Training and held-out data of a config. */
async function datasetFor(opts, preset) {
  if (preset.name.startsWith('fmnist')) {
    const file = (name) => path.join(opts.fmnist, name);
    return ImageDataset.load({
      source: { kind: 'idx', images: file('train-images-idx3-ubyte.gz'), labels: file('train-labels-idx1-ubyte.gz') },
      validation: { kind: 'idx', images: file('t10k-images-idx3-ubyte.gz'), labels: file('t10k-labels-idx1-ubyte.gz') },
      channels: 1,
      seed: opts.seed,
    });
  }
  const load = async (indices) => Promise.all(indices.map((i) => loadImage(path.join(opts.kodak, kodakName(i)), { channels: 3 })));
  const range = (a, b) => Array.from({ length: b - a + 1 }, (_, k) => a + k);
  const [train, test] = [await load(range(1, 12)), await load(range(13, 24))];
  return ImageDataset.load({
    source: { kind: 'arrays', images: train, names: range(1, 12).map(kodakName) },
    // Validation during training: the centre 64×64 of each test photo (cheap); the full photos are measured after.
    validation: { kind: 'arrays', images: test, names: range(13, 24).map(kodakName) },
    channels: 3,
    cropSize: preset.data.cropSize,
    cropsPerImage: preset.data.cropsPerImage,
    flipHorizontal: preset.data.flipHorizontal,
    seed: opts.seed,
  });
}

function modelConfig(opts, preset) {
  const config = structuredClone(preset.config);
  if (opts.ablation) Object.assign(config.quantizer, { kmeansInit: false, restartThreshold: 0 });
  if (opts.decay !== undefined) config.quantizer.decay = opts.decay;
  if (opts.restartThreshold !== undefined) config.quantizer.restartThreshold = opts.restartThreshold;
  return config;
}

/** Throughput of this machine for a config: a few timed steps in a scratch directory. */
async function measureThroughput(dataset, config, training) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-bench-image-'));
  let rate = 0;
  try {
    await trainImageTokenizer({
      dataset,
      outputDir: dir,
      config,
      steps: 30,
      batchSize: training.batchSize,
      learningRate: training.learningRate,
      checkpointEvery: 0,
      maxValidationImages: 1,
      reportImages: 1,
      onProgress: (p) => {
        rate = p.imagesPerSecond;
      },
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rate;
}

async function train(opts, preset, dataset, dir) {
  const config = modelConfig(opts, preset);
  const training = { ...preset.training };
  if (opts.lr !== undefined) training.learningRate = opts.lr;
  if (opts.batch !== undefined) training.batchSize = opts.batch;
  const budgetSeconds = opts.minutes * 60;
  let steps = opts.steps;
  let measuredRate;
  if (steps === undefined) {
    measuredRate = await measureThroughput(dataset, config, training);
    // Leave ~4% of the budget for validation passes and the final report.
    steps = Math.max(1, Math.floor((0.96 * budgetSeconds * measuredRate) / training.batchSize));
    console.error(`image bench: ${measuredRate.toFixed(0)} img/s → ${steps} steps of ${training.batchSize} in ${opts.minutes} min`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const started = performance.now();
  let lastLog = 0;
  const result = await trainImageTokenizer({
    dataset,
    outputDir: dir,
    config,
    steps,
    batchSize: training.batchSize,
    learningRate: training.learningRate,
    warmupSteps: training.warmupSteps,
    finalLearningRateRatio: training.finalLearningRateRatio,
    seed: opts.seed,
    checkpointEvery: 0,
    keepCheckpoints: 1,
    timeLimitSeconds: opts.steps === undefined ? budgetSeconds : undefined,
    onProgress: (p) => {
      const now = performance.now();
      if (now - lastLog < 15000 && p.step !== p.totalSteps) return;
      lastLog = now;
      console.error(
        `  step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)} PSNR ${p.psnr.toFixed(2)} ppl ${p.perplexity.toFixed(1)} ` +
          `usage ${(100 * p.usage).toFixed(0)}% lr ${p.learningRate.toExponential(1)} ${p.imagesPerSecond.toFixed(0)} img/s ` +
          `eta ${p.etaSeconds.toFixed(0)}s`,
      );
    },
    onValidation: (v) => console.error(`  validation @${v.step}: PSNR ${v.psnr.toFixed(2)} dB, usage ${(100 * v.usedFraction[0]).toFixed(1)}%, ppl ${v.perplexity[0].toFixed(1)}`),
  });
  fs.rmSync(path.join(dir, 'checkpoints'), { recursive: true, force: true });
  return {
    steps: result.step,
    plannedSteps: result.totalSteps,
    stoppedEarly: result.stoppedEarly,
    trainingSeconds: (performance.now() - started) / 1000,
    measuredImagesPerSecond: measuredRate,
    batchSize: training.batchSize,
    learningRate: training.learningRate,
    quantizer: config.quantizer,
  };
}

/** Fashion-MNIST: the whole test split through the tokenizer. */
async function evaluateFmnist(tokenizer, dataset, opts) {
  const q = await evaluateReconstruction(tokenizer.model, dataset.validation, { batchSize: 250, maxImages: opts.maxTest });
  const [h, w] = tokenizer.codeShape(28, 28);
  const bits = h * w * Math.log2(tokenizer.codebookSizes[0]);
  return {
    testImages: q.images,
    psnr: q.psnr,
    // PSNR of the mean squared error over the whole set (≤ the mean of per-image PSNRs).
    psnrOfMeanMse: 10 * Math.log10(1 / q.mse),
    mse: q.mse,
    codebookUsage: q.usedFraction[0],
    perplexity: q.perplexity[0],
    codeGrid: [h, w],
    fixedLengthBpp: bits / (28 * 28),
  };
}

/** Kodak: full test photos; PSNR over RGB, bpp of the codes. */
async function evaluateKodak(tokenizer, opts) {
  const space = imageCodeSpace(tokenizer);
  const K = tokenizer.codebookSizes[0];
  const hist = new Int32Array(K);
  const rows = [];
  const last = opts.maxTest === undefined ? 24 : Math.min(24, 12 + opts.maxTest);
  for (let i = 13; i <= last; i++) {
    const image = await loadImage(path.join(opts.kodak, kodakName(i)), { channels: 3 });
    const [codes] = tokenizer.encodeImages([image]);
    const recon = tokenizer.decode(codes);
    for (const c of codes.codes) hist[c]++;
    const packed = packImageCodes(codes, space, { entropyModel: 'auto' });
    const pixels = image.width * image.height;
    rows.push({
      image: kodakName(i),
      psnr: psnr(image.data, recon.data),
      fixedLengthBpp: (codes.codes.length * Math.log2(K)) / pixels,
      containerBpp: packed.stats.bitsPerPixel,
      entropyModel: packed.stats.entropyModel,
    });
  }
  const mean = (k) => rows.reduce((s, r) => s + r[k], 0) / rows.length;
  const meanMse = rows.reduce((s, r) => s + 10 ** (-r.psnr / 10), 0) / rows.length;
  const total = hist.reduce((a, b) => a + b, 0);
  let entropy = 0;
  let used = 0;
  for (const n of hist) {
    if (n === 0) continue;
    used++;
    entropy -= (n / total) * Math.log2(n / total);
  }
  return {
    testImages: rows.length,
    psnr: mean('psnr'),
    psnrOfMeanMse: 10 * Math.log10(1 / meanMse),
    fixedLengthBpp: mean('fixedLengthBpp'),
    containerBpp: mean('containerBpp'),
    codebookUsage: used / K,
    perplexity: 2 ** entropy,
    perImage: rows,
  };
}

async function main() {
  const opts = parseOptions();
  const info = await initEngine({ backend: opts.backend, threads: opts.threads });
  console.error(`image bench: backend ${info.description}`);
  const preset = imagePreset(opts.config);
  const name = `${opts.config}${opts.ablation ? '-ablation' : ''}`;
  const dir = opts.out ?? path.join(resultsDir, 'tokenizers', name);
  const dataset = await datasetFor(opts, preset);

  let training;
  if (opts.evalOnly) {
    if (!fs.existsSync(dir)) throw new Error(`--eval-only: no tokenizer in ${dir}; train it first`);
  } else {
    training = await train(opts, preset, dataset, dir);
  }
  const tokenizer = await ImageTokenizer.load(dir);
  const evalStart = performance.now();
  const test = opts.config.startsWith('fmnist') ? await evaluateFmnist(tokenizer, dataset, opts) : await evaluateKodak(tokenizer, opts);
  const evalSeconds = (performance.now() - evalStart) / 1000;
  const summaryFile = path.join(dir, 'report', 'summary.json');
  const summary = fs.existsSync(summaryFile) ? JSON.parse(fs.readFileSync(summaryFile, 'utf8')) : undefined;
  const record = {
    bench: 'image',
    config: name,
    preset: opts.config,
    date: new Date().toISOString(),
    backend: info.description,
    tokenizerDir: path.relative(repoRoot, dir),
    tokenizerId: imageCodeSpace(tokenizer).tokenizerId,
    parameters: tokenizer.model.parameterCount(),
    training: training ?? (summary && { steps: summary.steps, trainingSeconds: summary.trainingSeconds, batchSize: summary.batchSize }),
    test,
    evalSeconds,
  };
  tokenizer.dispose();
  const out = writeResult(`image-${name}`, record);

  const t = record.training;
  const rows = [
    ['config', name],
    ['steps × batch', t ? `${t.steps} × ${t.batchSize}` : '?'],
    ['training time', t ? `${(t.trainingSeconds / 60).toFixed(1)} min` : '?'],
    ['test images', String(test.testImages)],
    ['test PSNR (mean per image)', `${test.psnr.toFixed(2)} dB`],
    ['test PSNR (of mean MSE)', `${test.psnrOfMeanMse.toFixed(2)} dB`],
    ['codebook usage', `${(100 * test.codebookUsage).toFixed(1)}%`],
    ['perplexity', test.perplexity.toFixed(1)],
    ['fixed-length bpp', test.fixedLengthBpp.toFixed(4)],
  ];
  if (test.containerBpp !== undefined) rows.push(['container bpp (best model)', test.containerBpp.toFixed(4)]);
  const width = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  console.log(`results: ${path.relative(process.cwd(), out)}; tokenizer: ${record.tokenizerDir}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
