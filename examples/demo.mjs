// vqkit demo (`pnpm demo`): the whole pipeline on the Fashion-MNIST subset
// bundled in examples/data (6,000 training and 1,000 test images, MIT).
//
//   1. start the compute engine and say which backend runs
//   2. train an image tokenizer (VQ-VAE, f=4 → 7×7 codes, K=512)
//   3. fit its learned entropy model and compress the 1,000 test images into
//      .vqt files; compare with JPEG at the same file size
//   4. train a class-conditional Transformer prior on the codes and sample
//      new images of every class
//
// Everything lands in runs/demo/ (tokenizer, prior, report PNGs, a .vqt file).
// Options: --steps N (tokenizer steps, default 600), --prior-steps N (default 400),
//          --out DIR, --quick (a smoke run of a few steps).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initEngine } from '@vqkit/core';
import {
  compressImage,
  decompressImage,
  encodeImage,
  fitEntropyModel,
  imageGrid,
  imagePreset,
  ImageDataset,
  ImageTokenizer,
  loadEntropyModel,
  loadImage,
  psnr,
  toUint8Image,
  trainImageTokenizer,
} from '@vqkit/image';
import { loadTokenizedCodes, priorDataFromCodes, samplePrior, trainPrior, unigramBitsPerToken } from '@vqkit/prior';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    steps: { type: 'string' },
    'prior-steps': { type: 'string' },
    out: { type: 'string', default: path.join(here, '..', 'runs', 'demo') },
    quick: { type: 'boolean', default: false },
  },
});
const tokenizerSteps = Number(args.steps ?? (args.quick ? 6 : 600));
const priorSteps = Number(args['prior-steps'] ?? (args.quick ? 4 : 400));
const testImages = args.quick ? 32 : 1000;
const out = path.resolve(args.out);
const data = path.join(here, 'data', 'fashion-mnist');
const CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

const say = (line = '') => console.log(line);
const seconds = (start) => ((performance.now() - start) / 1000).toFixed(0);
fs.mkdirSync(out, { recursive: true });

// 1. engine -------------------------------------------------------------------
const engine = await initEngine({});
say(`vqkit demo — Fashion-MNIST subset in examples/data, outputs in ${path.relative(process.cwd(), out) || '.'}`);
say(`[1/4] engine: ${engine.description}${engine.skipped.length ? ` (skipped: ${engine.skipped.map((s) => s.backend).join(', ')})` : ''}`);

// 2. tokenizer ----------------------------------------------------------------
const preset = imagePreset('fmnist-f4');
const tokenizerDir = path.join(out, 'tokenizer');
const dataset = await ImageDataset.load({
  source: { kind: 'idx', images: path.join(data, 'train-images-idx3-ubyte.gz'), labels: path.join(data, 'train-labels-idx1-ubyte.gz') },
  validation: { kind: 'idx', images: path.join(data, 't10k-images-idx3-ubyte.gz'), labels: path.join(data, 't10k-labels-idx1-ubyte.gz') },
  channels: 1,
});
say(`[2/4] training the image tokenizer: ${preset.description}, ${tokenizerSteps} steps of ${preset.training.batchSize}`);
let started = performance.now();
let lastLine = 0;
const trained = await trainImageTokenizer({
  dataset,
  outputDir: tokenizerDir,
  config: preset.config,
  steps: tokenizerSteps,
  ...preset.training,
  warmupSteps: Math.min(preset.training.warmupSteps, Math.floor(tokenizerSteps / 5)),
  checkpointEvery: 0,
  onProgress: (p) => {
    if (performance.now() - lastLine < 10_000 && p.step !== p.totalSteps) return;
    lastLine = performance.now();
    say(`      step ${p.step}/${p.totalSteps}  loss ${p.loss.toFixed(4)}  batch PSNR ${p.psnr.toFixed(1)} dB  usage ${(100 * p.usage).toFixed(0)}%  ${p.imagesPerSecond.toFixed(0)} img/s`);
  },
});
const v = trained.validation;
say(`      done in ${seconds(started)} s: test PSNR ${v.psnr.toFixed(2)} dB on ${v.images} images, codebook usage ${(100 * v.usedFraction[0]).toFixed(0)}%, perplexity ${v.perplexity[0].toFixed(0)}`);
say(`      report: ${path.relative(process.cwd(), path.join(tokenizerDir, 'report'))}/ (reconstructions.png, codebook-usage.png, loss.png, summary.json)`);

// 3. compression ----------------------------------------------------------------
const tokenizer = await ImageTokenizer.load(tokenizerDir);
started = performance.now();
await fitEntropyModel(tokenizer, dataset, { outputDir: tokenizerDir, maxImages: args.quick ? 256 : 6000 });
const learnedModel = loadEntropyModel(tokenizerDir);
const test = dataset.validation;
const { images: pixels } = await test.loadBatchOf(Array.from({ length: testImages }, (_, i) => i));
let vqBytes = 0;
let vqPsnr = 0;
let jpegBytes = 0;
let jpegPsnr = 0;
let jpegLarger = 0;
const gridRows = [[], [], []];
for (let i = 0; i < testImages; i++) {
  const image = { data: pixels.subarray(i * 784, (i + 1) * 784), width: 28, height: 28, channels: 1 };
  const original = toUint8Image(image);
  const packed = await compressImage(image, tokenizer, { learnedModel });
  const { image: decoded } = await decompressImage(packed.bytes, tokenizer, { learnedModel });
  vqBytes += packed.bytes.length;
  vqPsnr += psnr(original, toUint8Image(decoded));
  // JPEG at the same file size: the highest quality whose file is not larger
  // (or JPEG's smallest file, quality 1, when even that is larger).
  let best;
  for (let q = 1; q <= 95; q += 2) {
    const jpeg = await encodeImage(image, 'jpeg', { quality: q });
    if (best !== undefined && jpeg.length > packed.bytes.length) break;
    best = jpeg;
  }
  if (best.length > packed.bytes.length) jpegLarger++;
  jpegBytes += best.length;
  const jpegDecoded = await loadImage(best, { channels: 1 });
  jpegPsnr += psnr(original, toUint8Image(jpegDecoded));
  if (i < 12) gridRows[0].push(image), gridRows[1].push(decoded), gridRows[2].push(jpegDecoded);
  if (i === 0) {
    fs.writeFileSync(path.join(out, 'test-0.vqt'), packed.bytes);
    fs.writeFileSync(path.join(out, 'test-0.png'), await encodeImage(image, 'png'));
  }
}
fs.writeFileSync(path.join(out, 'compression.png'), await imageGrid(gridRows, { scale: 3, rowLabels: ['original', 'vqkit', 'JPEG'] }));
const bpp = (bytes) => ((8 * bytes) / (testImages * 784)).toFixed(3);
say(`[3/4] compressed ${testImages} test images in ${seconds(started)} s (every byte of each .vqt file counted):`);
say(`      vqkit  ${(vqBytes / testImages).toFixed(1).padStart(6)} bytes/image  ${bpp(vqBytes)} bpp  PSNR ${(vqPsnr / testImages).toFixed(2)} dB`);
say(`      JPEG   ${(jpegBytes / testImages).toFixed(1).padStart(6)} bytes/image  ${bpp(jpegBytes)} bpp  PSNR ${(jpegPsnr / testImages).toFixed(2)} dB  (same size or smaller; for ${jpegLarger} images even quality 1 was larger)`);
say(`      originals / vqkit / JPEG: ${path.relative(process.cwd(), path.join(out, 'compression.png'))}; one image and its container: test-0.png, test-0.vqt`);

// 4. prior ----------------------------------------------------------------------
started = performance.now();
say(`[4/4] training a class-conditional Transformer prior on the codes (${priorSteps} steps)`);
// Tokenize the training and test sets once (cached on disk by tokenizer id); labels come from the IDX label files.
const codesOf = (file) => loadTokenizedCodes({ tokenizer: tokenizerDir, data: path.join(data, file), cacheDir: path.join(out, 'codes-cache') });
const trainCodes = priorDataFromCodes(await codesOf('train-images-idx3-ubyte.gz'), { classNames: CLASSES });
const testCodes = priorDataFromCodes(await codesOf('t10k-images-idx3-ubyte.gz'), { classNames: CLASSES, vocabulary: trainCodes.vocabulary });
const priorDir = path.join(out, 'prior');
const trainedPrior = await trainPrior({
  model: { vocabulary: trainCodes.vocabulary, nPositions: trainCodes.sequenceLength, nEmbd: 128, nLayer: 2, nHead: 4, seed: 0 },
  metadata: { ...trainCodes.metadata, tokenizerDir: path.relative(priorDir, tokenizerDir) },
  train: trainCodes.sequences,
  validation: testCodes.sequences,
  steps: priorSteps,
  batchSize: 32,
  learningRate: 1e-3,
  classDropout: 0.1,
  evalEvery: priorSteps,
  maxValidationSequences: args.quick ? 32 : 500,
  onProgress: (p) => {
    if (performance.now() - lastLine < 10_000 && p.step !== priorSteps) return;
    lastLine = performance.now();
    say(`      step ${p.step}/${priorSteps}  ${p.bitsPerToken.toFixed(2)} bits/token  ${p.tokensPerSecond.toFixed(0)} tokens/s`);
  },
});
trainedPrior.model.save(priorDir);
const unigram = unigramBitsPerToken(trainCodes.sequences, trainCodes.vocabulary);
say(
  `      done in ${seconds(started)} s: test ${trainedPrior.validation.bitsPerToken.toFixed(2)} bits/token ` +
    `(the codes' unigram entropy is ${unigram.toFixed(2)}, a fixed-length code ${Math.log2(512)})`,
);
started = performance.now();
const sampleRows = [];
for (let classIndex = 0; classIndex < CLASSES.length; classIndex++) {
  const samples = samplePrior(trainedPrior.model, { count: 6, classIndex, seed: 7, temperature: 1, topK: 64 });
  sampleRows.push(samples.map((sample) => tokenizer.decode({ codes: sample.codes, shape: [7, 7] })));
}
fs.writeFileSync(path.join(out, 'samples.png'), await imageGrid(sampleRows, { scale: 3, rowLabels: CLASSES }));
say(`      sampled 6 new images of each of the ${CLASSES.length} classes in ${seconds(started)} s: ${path.relative(process.cwd(), path.join(out, 'samples.png'))}`);
trainedPrior.model.dispose();
tokenizer.dispose();
say('done. Try the CLI on the same files, e.g.:');
say(`  pnpm vqkit compress ${path.relative(process.cwd(), path.join(out, 'test-0.png'))} -m ${path.relative(process.cwd(), tokenizerDir)} -o /tmp/test-0.vqt`);
say(`  pnpm vqkit sample --prior ${path.relative(process.cwd(), priorDir)} --class Sneaker --n 16 -o /tmp/sneakers.png`);
