// Transformer-prior benchmark on real tokenizer codes (Fashion-MNIST):
//  1. codes: a trained image tokenizer (bench/results/tokenizers/fmnist-f4/,
//     else a small one trained here once) tokenizes the training subset and the
//     test set (cached by tokenizer id);
//  2. a class-conditional GPT prior trains on the codes;
//  3. held-out NLL in bits/token (and bits/pixel), with and without the class,
//     against the unigram entropy of the codes;
//  4. class-conditional samples, decoded by the tokenizer, judged by a small
//     CNN trained here on the real training images: the fraction classified as
//     the requested class (with the CNN's accuracy on real test images and on
//     their reconstructions for reference); a sample grid PNG;
//  5. sampling speed in tokens/s with the KV cache and with a full forward
//     pass per token (TF.js), and through the ONNX export (ONNX Runtime with
//     past key/values, and transformers.js generate());
//  6. entropy coding: the prior as the container coder's model against the
//     static ones (fixed-length, adaptive, static frequencies, neighbour
//     context), in payload bits per code on test images.
// Prints a summary table and writes bench/results/prior-<timestamp>.json.
//
//   pnpm bench prior [--steps 1000] [--train-images 20000] [--tokenizer DIR] …  (--help)
//   pnpm bench prior --speed-only   (step 5 alone, on an untrained prior of the same shape)
//   pnpm bench prior --audio [--steps 1500 --train-minutes 8 --digit 7 …]   (the FSDD speech prior: bench/lib/prior-audio.mjs)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { NeighbourContextModelSet, StaticModelSet, adaptiveSpec, fixedLengthSpec, initEngine, measureCodeBits } from '../packages/core/dist/index.js';
import { ImageTokenizer, encodeIdx, imageGrid, readIdxImages, readIdxLabels } from '../packages/image/dist/index.js';
import {
  GPT,
  PriorModel,
  evaluatePrior,
  generate,
  loadTokenizedCodes,
  priorDataFromCodes,
  priorEntropyModel,
  samplePrior,
  trainPrior,
  unigramBitsPerToken,
} from '../packages/prior/dist/index.js';
import { ensureFmnistTokenizer } from './lib/fmnist-tokenizer.mjs';
import { trainFmnistClassifier } from './lib/fmnist-classifier.mjs';
import { onnxSamplingSpeed } from './lib/prior-onnx-speed.mjs';
import { parseAudioArgs, runAudioPriorBench } from './lib/prior-audio.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const tf = createRequire(path.join(here, '../packages/prior/package.json'))('@tensorflow/tfjs');
const RESULTS = path.join(here, 'results');
const CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

const DEFAULTS = {
  backend: 'auto',
  data: process.env.VQKIT_FMNIST_DIR ?? '/usr/share/datasets/fashion-mnist',
  tokenizer: undefined,
  trainImages: 20000,
  valImages: 2000,
  steps: 1000,
  trainMinutes: 8,
  batch: 32,
  lr: 2e-3,
  embd: 96,
  layers: 3,
  heads: 4,
  classDropout: 0.1,
  samplesPerClass: 20,
  classifierImages: 15000,
  classifierEpochs: 2,
  codingImages: 100,
  onnxThreads: 2,
  seed: 0,
  speedOnly: false,
};

function parseArgs(argv) {
  const opts = { ...DEFAULTS };
  const numeric = {
    '--train-images': 'trainImages', '--val-images': 'valImages', '--steps': 'steps', '--train-minutes': 'trainMinutes', '--batch': 'batch', '--lr': 'lr',
    '--embd': 'embd', '--layers': 'layers', '--heads': 'heads', '--class-dropout': 'classDropout', '--samples-per-class': 'samplesPerClass',
    '--classifier-images': 'classifierImages', '--classifier-epochs': 'classifierEpochs', '--coding-images': 'codingImages', '--onnx-threads': 'onnxThreads', '--seed': 'seed',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg in numeric) {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${arg} needs a non-negative number`);
      opts[numeric[arg]] = v;
    } else if (arg === '--backend') opts.backend = argv[++i];
    else if (arg === '--data') opts.data = argv[++i];
    else if (arg === '--tokenizer') opts.tokenizer = argv[++i];
    else if (arg === '--speed-only') opts.speedOnly = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(`options (defaults): --backend ${DEFAULTS.backend} --data DIR --tokenizer DIR --speed-only ${Object.entries(numeric).map(([flag, key]) => `${flag} ${DEFAULTS[key]}`).join(' ')}`);
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (--help lists them)`);
  }
  return opts;
}

/** The first `count` images + labels of a split as an uncompressed IDX pair (the prior trains on a subset; the codes cache keys on the file list). */
async function subsetIdx(dataDir, split, count) {
  const images = await readIdxImages(path.join(dataDir, `${split}-images-idx3-ubyte.gz`));
  const labels = await readIdxLabels(path.join(dataDir, `${split}-labels-idx1-ubyte.gz`));
  const n = Math.min(count, images.count);
  const dir = path.join(RESULTS, 'prior', 'data');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${split}-${n}-images-idx3-ubyte`);
  if (!fs.existsSync(file)) {
    fs.writeFileSync(path.join(dir, `${split}-${n}-labels-idx1-ubyte`), encodeIdx({ dtype: 'uint8', shape: [n], data: labels.subarray(0, n) }));
    fs.writeFileSync(file, encodeIdx({ dtype: 'uint8', shape: [n, 28, 28], data: images.data.subarray(0, n * 784) }));
  }
  return { file, pixels: images.data, labels, count: n };
}

const seconds = (t0) => (performance.now() - t0) / 1000;
const fmt = (v, digits = 3) => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits));

/** Tokens/s of generating `batch` × `tokens` codes with the KV cache (best of `reps`). */
function kvCacheSpeed(gpt, vocab, batch, tokens, reps = 3) {
  let best = 0;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    generate(gpt, { batch, maxNewTokens: tokens, seed: r, classIndex: Array.from({ length: batch }, (_, b) => b % vocab.numClasses), constrain: () => ({ start: 0, end: vocab.codebookSize }) });
    best = Math.max(best, (batch * tokens) / seconds(t0));
  }
  return best;
}

/** Tokens/s when every new token re-runs the whole prefix (no cache; greedy, the sampling cost is the same). */
function fullRecomputeSpeed(gpt, vocab, batch, tokens) {
  const seqs = Array.from({ length: batch }, (_, b) => [vocab.firstClassId + (b % vocab.numClasses)]);
  const t0 = performance.now();
  for (let i = 0; i < tokens; i++) {
    const T = seqs[0].length;
    const logits = tf.tidy(() => gpt.forward(tf.tensor2d(seqs.flat(), [batch, T], 'int32')).dataSync());
    for (let b = 0; b < batch; b++) {
      const row = logits.subarray((b * T + T - 1) * vocab.vocabSize, (b * T + T - 1) * vocab.vocabSize + vocab.codebookSize);
      let arg = 0;
      for (let k = 1; k < row.length; k++) if (row[k] > row[arg]) arg = k;
      seqs[b].push(arg);
    }
  }
  return (batch * tokens) / seconds(t0);
}

/** Sampling speed of `gpt` generating `tokens` codes per row: TF.js with and without the KV cache, and through the ONNX export. */
async function samplingSpeed(gpt, vocab, tokens, opts, metadata) {
  // Warm-up: the first calls compile kernels and allocate caches, and the
  // JavaScript around the kernels takes a few dozen calls to be optimised
  // (a cold batch-1 run is 2–3× slower).
  for (let i = 0; i < 6; i++) kvCacheSpeed(gpt, vocab, 1, tokens, 1);
  kvCacheSpeed(gpt, vocab, 16, tokens, 2);
  fullRecomputeSpeed(gpt, vocab, 16, Math.min(tokens, 8));
  const speed = {
    kvCacheBatch1: kvCacheSpeed(gpt, vocab, 1, tokens),
    fullRecomputeBatch1: fullRecomputeSpeed(gpt, vocab, 1, tokens),
    kvCacheBatch16: kvCacheSpeed(gpt, vocab, 16, tokens),
    fullRecomputeBatch16: fullRecomputeSpeed(gpt, vocab, 16, tokens),
  };
  console.log(
    `sampling: KV cache ${speed.kvCacheBatch1.toFixed(0)} tokens/s (batch 1), ${speed.kvCacheBatch16.toFixed(0)} (batch 16); ` +
      `full recompute per token ${speed.fullRecomputeBatch1.toFixed(0)} / ${speed.fullRecomputeBatch16.toFixed(0)}`,
  );
  try {
    const onnx = await onnxSamplingSpeed(gpt, vocab, { tokens, batches: [1, 16], threads: opts.onnxThreads, metadata });
    speed.onnx = onnx;
    console.log(
      `sampling through the ONNX export (${(onnx.onnxBytes / 1e6).toFixed(2)} MB, ${onnx.threads} intra-op threads): ` +
        `ONNX Runtime with past key/values ${onnx.onnxRuntime[1].toFixed(0)} tokens/s (batch 1), ${onnx.onnxRuntime[16].toFixed(0)} (batch 16); ` +
        `transformers.js generate() ${onnx.transformersJs[1].toFixed(0)} / ${onnx.transformersJs[16].toFixed(0)}`,
    );
  } catch (err) {
    speed.onnx = { error: String(err?.message ?? err) };
    console.log(`sampling through the ONNX export failed: ${speed.onnx.error}`);
  }
  return speed;
}

function speedRows(speed) {
  const onnx = speed.onnx;
  return [
    ['sampling, KV cache (TF.js)', `${speed.kvCacheBatch1.toFixed(0)} tokens/s batch 1, ${speed.kvCacheBatch16.toFixed(0)} batch 16`],
    ['sampling, full recompute (TF.js)', `${speed.fullRecomputeBatch1.toFixed(0)} tokens/s batch 1, ${speed.fullRecomputeBatch16.toFixed(0)} batch 16`],
    ...(onnx.error
      ? [['sampling through ONNX', `failed: ${onnx.error}`]]
      : [
          ['sampling, ONNX Runtime + past key/values', `${onnx.onnxRuntime[1].toFixed(0)} tokens/s batch 1, ${onnx.onnxRuntime[16].toFixed(0)} batch 16`],
          ['sampling, transformers.js generate()', `${onnx.transformersJs[1].toFixed(0)} tokens/s batch 1, ${onnx.transformersJs[16].toFixed(0)} batch 16`],
        ]),
  ];
}

function printTable(title, rows) {
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`\n${title}`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
}

function writeResult(result, name) {
  fs.mkdirSync(RESULTS, { recursive: true });
  const out = path.join(RESULTS, `${name}-${result.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`results: ${path.relative(path.join(here, '..'), out)}`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(path.join(opts.data, 'train-images-idx3-ubyte.gz'))) {
    console.log(`Fashion-MNIST not found in ${opts.data} (--data DIR or VQKIT_FMNIST_DIR); skipping`);
    return;
  }
  const engine = await initEngine({ backend: opts.backend });
  console.log(`engine: ${engine.description}`);
  const started = performance.now();
  const result = { date: new Date().toISOString(), host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadAverage: os.loadavg() }, engine: engine.description, options: opts };

  // 1. Codes.
  const { dir: tokenizerDir, psnr: tokenizerPsnr } = await ensureFmnistTokenizer({ dataDir: opts.data, preferred: opts.tokenizer });
  const train = await subsetIdx(opts.data, 'train', opts.trainImages);
  const test = await subsetIdx(opts.data, 't10k', 10000);
  const cacheDir = path.join(RESULTS, 'prior', 'codes');
  let t0 = performance.now();
  const trainCodes = await loadTokenizedCodes({ tokenizer: tokenizerDir, data: train.file, cacheDir });
  const testCodes = await loadTokenizedCodes({ tokenizer: tokenizerDir, data: test.file, cacheDir });
  const tokenizeSeconds = seconds(t0);
  const trainData = priorDataFromCodes(trainCodes, { classNames: CLASS_NAMES, numClasses: 10 });
  const vocab = trainData.vocabulary;
  const testData = priorDataFromCodes(testCodes, { classNames: CLASS_NAMES, numClasses: 10, vocabulary: vocab });
  const val = testData.sequences.slice(0, opts.valImages);
  const grid = trainData.metadata.grid;
  result.tokenizer = { dir: path.relative(path.join(here, '..'), tokenizerDir), id: trainCodes.tokenizer.id, codebookSize: vocab.codebookSize, grid, psnrIfTrainedHere: tokenizerPsnr };
  result.codes = { train: trainData.sequences.length, test: testData.sequences.length, cached: trainCodes.fromCache && testCodes.fromCache, seconds: tokenizeSeconds };
  console.log(
    `codes: tokenizer ${trainCodes.tokenizer.id} (K ${vocab.codebookSize}, ${grid.height}x${grid.width} grid), ${trainData.sequences.length} train + ${testData.sequences.length} test images ` +
      `(${result.codes.cached ? 'from cache' : 'tokenized'} in ${tokenizeSeconds.toFixed(0)} s)`,
  );

  if (opts.speedOnly) {
    // Speed does not depend on the weights: an untrained prior of the bench's shape.
    const gpt = new GPT({ vocabulary: vocab, nPositions: trainData.sequenceLength, nEmbd: opts.embd, nLayer: opts.layers, nHead: opts.heads, seed: opts.seed });
    result.prior = { parameters: gpt.parameterCount(), untrained: true };
    result.speed = await samplingSpeed(gpt, vocab, grid.height * grid.width, opts, trainData.metadata);
    gpt.dispose();
    result.totalSeconds = seconds(started);
    printTable(`prior sampling speed (untrained prior of the bench's shape, ${grid.height * grid.width} tokens per row, ${engine.description}, ${result.totalSeconds.toFixed(0)} s)`, speedRows(result.speed));
    writeResult(result, 'prior-speed');
    return;
  }

  // 2. Prior.
  const unigram = unigramBitsPerToken(trainData.sequences, vocab);
  const usedCodes = new Set(trainData.sequences.flatMap((s) => Array.from(s.subarray(1)))).size;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.trainMinutes * 60_000);
  t0 = performance.now();
  const report = await trainPrior({
    model: { vocabulary: vocab, nPositions: trainData.sequenceLength, nEmbd: opts.embd, nLayer: opts.layers, nHead: opts.heads, seed: opts.seed },
    metadata: { ...trainData.metadata, tokenizerDir },
    train: trainData.sequences,
    validation: val,
    steps: opts.steps,
    batchSize: opts.batch,
    learningRate: opts.lr,
    classDropout: opts.classDropout,
    seed: opts.seed,
    evalEvery: Math.max(1, Math.floor(opts.steps / 4)),
    maxValidationSequences: 500,
    signal: controller.signal,
    onProgress: (p) => {
      if (p.validation) console.log(`  step ${p.step}/${p.totalSteps}: train ${fmt(p.bitsPerToken)} bits/token, val ${fmt(p.validation.bitsPerToken)}, ${p.tokensPerSecond.toFixed(0)} tokens/s, ETA ${p.eta.toFixed(0)} s`);
    },
  });
  clearTimeout(timer);
  const prior = report.model;
  const gpt = prior.gpt;
  const trainSeconds = seconds(t0);
  // 3. Held-out NLL, with the class and unconditional (BOS prefix).
  const conditional = evaluatePrior(gpt, val, { tokensPerPixel: trainData.metadata.tokensPerPixel, batchSize: 64 });
  const unconditional = evaluatePrior(gpt, val.map((s) => Int32Array.of(vocab.bosId, ...s.subarray(1))), { tokensPerPixel: trainData.metadata.tokensPerPixel, batchSize: 64 });
  result.prior = {
    parameters: report.parameterCount, steps: report.steps, stoppedByTimeLimit: report.aborted, trainSeconds, trainTokensPerSecond: report.tokensPerSecond,
    heldOut: { images: val.length, conditional, unconditional }, unigramBitsPerToken: unigram, usedCodes,
  };
  console.log(
    `prior: ${(report.parameterCount / 1e6).toFixed(2)}M params, ${report.steps} steps${report.aborted ? ' (time limit)' : ''} in ${trainSeconds.toFixed(0)} s (${report.tokensPerSecond.toFixed(0)} tokens/s); ` +
      `held-out ${fmt(conditional.bitsPerToken)} bits/token with the class, ${fmt(unconditional.bitsPerToken)} without; unigram entropy ${fmt(unigram)} (${usedCodes} codes used)`,
  );

  // 4. Classifier and class-conditional samples.
  const classifier = await trainFmnistClassifier({ pixels: train.pixels, labels: train.labels }, { images: opts.classifierImages, epochs: opts.classifierEpochs, seed: opts.seed });
  const realAccuracy = classifier.accuracy(test.pixels, test.labels);
  const tokenizer = await ImageTokenizer.load(tokenizerDir);
  const reconN = 1000;
  const recon = testCodes.items.slice(0, reconN).map((item) => tokenizer.decode({ codes: item.codes, shape: item.shape }).data);
  const reconPred = classifier.predict(recon);
  const reconAccuracy = reconPred.reduce((n, c, i) => n + (c === test.labels[i] ? 1 : 0), 0) / reconN;
  const perClass = [];
  const gridRows = [];
  t0 = performance.now();
  let sampledTokens = 0;
  for (let k = 0; k < 10; k++) {
    const samples = samplePrior(prior, { count: opts.samplesPerClass, classIndex: k, seed: `class${k}` });
    sampledTokens += samples.reduce((n, s) => n + s.tokens.length, 0);
    const images = samples.map((s) => tokenizer.decode({ codes: s.codes, shape: [grid.height, grid.width] }));
    const pred = classifier.predict(images.map((img) => img.data));
    perClass.push(pred.reduce((n, c) => n + (c === k ? 1 : 0), 0) / samples.length);
    gridRows.push(images.slice(0, 10));
  }
  const samplingSeconds = seconds(t0);
  const sampleAccuracy = perClass.reduce((a, b) => a + b, 0) / perClass.length;
  const gridFile = path.join(RESULTS, 'prior-samples.png');
  fs.writeFileSync(gridFile, await imageGrid(gridRows, { rowLabels: CLASS_NAMES, title: 'prior samples by class' }));
  result.classifier = { trainImages: Math.min(opts.classifierImages, train.count), epochs: opts.classifierEpochs, seconds: classifier.seconds, testAccuracy: realAccuracy, reconstructionAccuracy: reconAccuracy };
  result.samples = { perClass: opts.samplesPerClass, classifiedAsRequested: sampleAccuracy, byClass: Object.fromEntries(CLASS_NAMES.map((n, k) => [n, perClass[k]])), grid: path.relative(path.join(here, '..'), gridFile) };
  console.log(
    `samples: ${(100 * sampleAccuracy).toFixed(1)}% classified as the requested class (chance 10%; classifier on real test images ${(100 * realAccuracy).toFixed(1)}%, ` +
      `on their reconstructions ${(100 * reconAccuracy).toFixed(1)}%); grid in ${result.samples.grid}`,
  );

  // 5. Sampling speed.
  const tokensPer = grid.height * grid.width;
  const speed = { samplePriorTokensPerSecond: sampledTokens / samplingSeconds, ...(await samplingSpeed(gpt, vocab, tokensPer, opts, prior.metadata)) };
  result.speed = speed;

  // 6. Entropy coding of test images' code grids.
  const sizes = [vocab.codebookSize];
  const tensors = testCodes.items.slice(0, opts.codingImages).map((item) => ({ codes: item.codes, shape: [grid.height, grid.width, 1] }));
  const trainTensors = trainCodes.items.map((item) => ({ codes: item.codes, shape: [grid.height, grid.width, 1] }));
  const priorSpec = priorEntropyModel(prior, { tokenizerId: trainCodes.tokenizer.id });
  t0 = performance.now();
  const coding = measureCodeBits(tensors, sizes, {
    'fixed-length': fixedLengthSpec,
    adaptive: adaptiveSpec,
    static: StaticModelSet.train(trainTensors.map((t) => t.codes), sizes),
    neighbour: NeighbourContextModelSet.train(trainTensors, sizes),
    prior: priorSpec,
  });
  const codingSeconds = seconds(t0);
  priorSpec.dispose();
  const codes = tensors.length * tokensPer;
  const byName = Object.fromEntries(coding.map((r) => [r.name, { payloadBitsPerCode: r.payloadBits / codes, idealBitsPerCode: r.idealBits / codes }]));
  const bestStatic = coding.filter((r) => r.name !== 'prior').reduce((a, b) => (b.payloadBits < a.payloadBits ? b : a));
  const priorReport = coding.find((r) => r.name === 'prior');
  result.entropyCoding = {
    images: tensors.length,
    models: byName,
    bestStatic: bestStatic.name,
    bitsSavedPerImage: (bestStatic.payloadBits - priorReport.payloadBits) / tensors.length,
    savedFraction: 1 - priorReport.payloadBits / bestStatic.payloadBits,
    seconds: codingSeconds,
  };
  console.log(
    `entropy coding (${tensors.length} test images): prior ${fmt(byName.prior.payloadBitsPerCode)} bits/code vs best static (${bestStatic.name}) ${fmt(byName[bestStatic.name].payloadBitsPerCode)}: ` +
      `${result.entropyCoding.bitsSavedPerImage.toFixed(1)} bits saved per image (${(100 * result.entropyCoding.savedFraction).toFixed(1)}%)`,
  );

  // Save/load round trip of the prior directory.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-bench-prior-'));
  prior.save(dir);
  const reloaded = PriorModel.load(dir);
  const [a] = samplePrior(reloaded, { className: 'Sneaker', seed: 7 });
  const [b] = samplePrior(prior, { className: 'Sneaker', seed: 7 });
  result.saveLoadSameSample = a.codes.every((c, i) => c === b.codes[i]);
  reloaded.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
  tokenizer.dispose();
  classifier.dispose();
  prior.dispose();
  result.totalSeconds = seconds(started);

  const rows = [
    ['held-out NLL, class-conditional', `${fmt(conditional.bitsPerToken)} bits/token = ${fmt(conditional.bitsPerPixel, 4)} bits/pixel`],
    ['held-out NLL, unconditional', `${fmt(unconditional.bitsPerToken)} bits/token = ${fmt(unconditional.bitsPerPixel, 4)} bits/pixel`],
    ['unigram entropy of the codes', `${fmt(unigram)} bits/token (log2 K = ${fmt(Math.log2(vocab.codebookSize))})`],
    ['samples classified as requested', `${(100 * sampleAccuracy).toFixed(1)}% (${opts.samplesPerClass} per class)`],
    ['classifier test accuracy', `${(100 * realAccuracy).toFixed(1)}% real, ${(100 * reconAccuracy).toFixed(1)}% reconstructions`],
    ...speedRows(speed),
    ...coding.map((r) => [`entropy coding: ${r.name}`, `${fmt(r.payloadBits / codes)} bits/code payload (ideal ${fmt(r.idealBits / codes)})`]),
    ['prior vs best static', `${result.entropyCoding.bitsSavedPerImage.toFixed(1)} bits/image saved (${(100 * result.entropyCoding.savedFraction).toFixed(1)}%)`],
    ['training', `${report.steps} steps, ${trainSeconds.toFixed(0)} s, ${report.tokensPerSecond.toFixed(0)} tokens/s`],
    ['save/load gives the same sample', String(result.saveLoadSameSample)],
  ];
  printTable(`prior benchmark (Fashion-MNIST, ${engine.description}, ${result.totalSeconds.toFixed(0)} s)`, rows);
  writeResult(result, 'prior');
}

(process.argv.includes('--audio') ? runAudioPriorBench(parseAudioArgs(process.argv.slice(2))) : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
