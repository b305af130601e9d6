// Speech prior benchmark (bench/prior.mjs --audio): a class-conditional GPT
// prior over the residual-VQ codes of the FSDD speech tokenizer.
//  1. codes: the tokenizer (bench/results/tokenizers/fsdd/, or --tokenizer)
//     tokenizes the FSDD training split (takes 5–49) and test split (takes
//     0–4) through the codes cache; label = the spoken digit;
//  2. a prior (flatten pattern: a frame's levels in order, frame by frame)
//     trains on the training codes under a time cap;
//  3. held-out NLL on the test split in bits/token and bits/second, with the
//     digit and unconditional, against the unigram entropy of the codes (per
//     level, on the training codes, and the held-out cross-entropy of that
//     unigram model) and the tokenizer's raw rate;
//  4. class-conditional samples of every digit, judged by a small classifier
//     trained on the real training codes (softmax regression on histograms
//     of the coarsest level's codes in three parts of the utterance): the fraction classified as the
//     requested digit, beside the classifier's accuracy on the real test codes;
//  5. samples of one digit (default 7) decoded to WAV files, with a real test
//     utterance of that digit and its reconstruction by the tokenizer.
// Writes bench/results/prior-audio-<timestamp>.json, and the prior and the WAVs
// in bench/results/prior-audio/ (prior-audio-<N>levels/ with --levels N).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AudioTokenizer, encodeWav, tryParseFsddName } from '../../packages/audio/dist/index.js';
import { initEngine } from '../../packages/core/dist/index.js';
import { evaluatePrior, loadTokenizedCodes, priorDataFromCodes, samplePrior, trainPrior, unigramBitsPerToken } from '../../packages/prior/dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const RESULTS = path.join(repoRoot, 'bench', 'results');
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export const AUDIO_DEFAULTS = {
  fsdd: path.join(process.env.VQKIT_DATA_DIR ?? path.resolve(repoRoot, '../shared/data'), 'audio', 'fsdd'),
  tokenizer: path.join(RESULTS, 'tokenizers', 'fsdd'),
  levels: 0,
  contextFrames: 32,
  steps: 1500,
  trainMinutes: 8,
  batch: 16,
  lr: 2e-3,
  embd: 96,
  layers: 3,
  heads: 4,
  classDropout: 0.1,
  digit: 7,
  samples: 4,
  judgeSamples: 10,
  temperature: 1,
  seed: 0,
};

const seconds = (t0) => (performance.now() - t0) / 1000;
const fmt = (v, digits = 3) => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits));

/** A list file (path<TAB>digit per line) of one FSDD split; the codes cache keys on its content. */
function splitList(fsddDir, split) {
  const files = fs
    .readdirSync(fsddDir)
    .filter((f) => tryParseFsddName(f)?.split === split)
    .sort();
  const dir = path.join(RESULTS, 'prior', 'data');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `fsdd-${split}.txt`);
  fs.writeFileSync(file, files.map((f) => `${path.join(fsddDir, f)}\t${tryParseFsddName(f).digit}\n`).join(''));
  return { file, count: files.length };
}

/** Held-out cross-entropy (bits/token) of the per-level unigram model of `train` (add-½ smoothing) on `test`. */
function unigramCrossEntropy(train, test, vocab) {
  const K = vocab.codebookSize;
  const counts = new Float64Array(vocab.codeTokens).fill(0.5);
  for (const s of train) for (let i = 1; i < s.length; i++) if (s[i] < vocab.codeTokens) counts[s[i]] += 1;
  const totals = Array.from({ length: vocab.levels }, (_, l) => counts.subarray(l * K, (l + 1) * K).reduce((a, b) => a + b, 0));
  let bits = 0;
  let n = 0;
  for (const s of test) {
    for (let i = 1; i < s.length; i++) {
      const t = s[i];
      if (t >= vocab.codeTokens) continue;
      bits -= Math.log2(counts[t] / totals[Math.floor(t / K)]);
      n++;
    }
  }
  return bits / n;
}

/** Options of `bench/prior.mjs --audio`. */
export function parseAudioArgs(argv) {
  const opts = { ...AUDIO_DEFAULTS, backend: 'auto', frames: undefined };
  const numeric = {
    '--levels': 'levels', '--context-frames': 'contextFrames', '--steps': 'steps', '--train-minutes': 'trainMinutes', '--batch': 'batch', '--lr': 'lr', '--embd': 'embd', '--layers': 'layers',
    '--heads': 'heads', '--class-dropout': 'classDropout', '--digit': 'digit', '--samples': 'samples', '--judge-samples': 'judgeSamples', '--frames': 'frames', '--temperature': 'temperature', '--seed': 'seed',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--audio') continue;
    if (arg in numeric) {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${arg} needs a non-negative number`);
      opts[numeric[arg]] = v;
    } else if (arg === '--backend') opts.backend = argv[++i];
    else if (arg === '--fsdd') opts.fsdd = path.resolve(argv[++i]);
    else if (arg === '--tokenizer') opts.tokenizer = path.resolve(argv[++i]);
    else if (arg === '--help' || arg === '-h') {
      console.log(`options of --audio (defaults): --backend auto --fsdd DIR --tokenizer DIR ${Object.entries(numeric).map(([flag, key]) => `${flag} ${AUDIO_DEFAULTS[key] ?? '(median clip of the digit)'}`).join(' ')}`);
      process.exit(0);
    } else throw new Error(`unknown option ${arg} of --audio (--audio --help lists them)`);
  }
  return opts;
}

/**
 * Features of an utterance's codes [frames, levels]: normalised histograms of
 * the codes of the first `levels` levels in each of `segments` equal parts of
 * the utterance (a little of the temporal order).
 */
export function codeHistogram(codes, frames, totalLevels, K, { levels = 1, segments = 3 } = {}) {
  const x = new Float32Array(segments * levels * K);
  for (let f = 0; f < frames; f++) {
    const segment = Math.min(segments - 1, Math.floor((f * segments) / frames));
    for (let l = 0; l < levels; l++) x[(segment * levels + l) * K + codes[f * totalLevels + l]] += segments / frames;
  }
  return x;
}

/**
 * Softmax regression (full batch, Adam, L2) on standardised features: a cheap
 * digit classifier that never saw the prior, to judge its samples.
 */
export function trainDigitClassifier(features, labels, classes, { iterations = 300, lr = 0.05, l2 = 1e-2 } = {}) {
  const D = features[0].length;
  const N = features.length;
  const mean = new Float64Array(D);
  const std = new Float64Array(D);
  for (const x of features) for (let d = 0; d < D; d++) mean[d] += x[d] / N;
  for (const x of features) for (let d = 0; d < D; d++) std[d] += (x[d] - mean[d]) ** 2 / N;
  for (let d = 0; d < D; d++) std[d] = Math.sqrt(std[d]) + 1e-6;
  const norm = (x) => Float64Array.from(x, (v, d) => (v - mean[d]) / std[d]);
  const X = features.map(norm);
  const W = new Float64Array(classes * (D + 1));
  const m = new Float64Array(W.length);
  const v = new Float64Array(W.length);
  const logits = (x) => {
    const z = new Float64Array(classes);
    for (let c = 0; c < classes; c++) {
      let sum = W[c * (D + 1) + D];
      for (let d = 0; d < D; d++) sum += W[c * (D + 1) + d] * x[d];
      z[c] = sum;
    }
    return z;
  };
  for (let it = 1; it <= iterations; it++) {
    const grad = new Float64Array(W.length);
    for (let i = 0; i < N; i++) {
      const z = logits(X[i]);
      const max = Math.max(...z);
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += z[c] = Math.exp(z[c] - max);
      for (let c = 0; c < classes; c++) {
        const g = (z[c] / sum - (c === labels[i] ? 1 : 0)) / N;
        for (let d = 0; d < D; d++) grad[c * (D + 1) + d] += g * X[i][d];
        grad[c * (D + 1) + D] += g;
      }
    }
    for (let j = 0; j < W.length; j++) {
      const g = grad[j] + l2 * W[j];
      m[j] = 0.9 * m[j] + 0.1 * g;
      v[j] = 0.999 * v[j] + 0.001 * g * g;
      W[j] -= (lr * (m[j] / (1 - 0.9 ** it))) / (Math.sqrt(v[j] / (1 - 0.999 ** it)) + 1e-8);
    }
  }
  return (x) => {
    const z = logits(norm(x));
    let best = 0;
    for (let c = 1; c < classes; c++) if (z[c] > z[best]) best = c;
    return best;
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

export async function runAudioPriorBench(opts) {
  if (!fs.existsSync(opts.fsdd)) {
    console.log(`FSDD not found in ${opts.fsdd} (--fsdd DIR or VQKIT_DATA_DIR); skipping`);
    return;
  }
  if (!fs.existsSync(path.join(opts.tokenizer, 'model.safetensors'))) {
    console.log(`no speech tokenizer in ${opts.tokenizer} (train one with bench/audio.mjs --train-minutes M, or --tokenizer DIR); skipping`);
    return;
  }
  const engine = await initEngine({ backend: opts.backend });
  console.log(`engine: ${engine.description}`);
  // Loaded now: the directory may be rewritten (a tokenizer retrained) while the prior trains.
  const tokenizer = await AudioTokenizer.load(opts.tokenizer);
  const tokenizerId = tokenizer.id;
  const started = performance.now();
  const result = { date: new Date().toISOString(), host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadAverage: os.loadavg() }, engine: engine.description, options: opts };

  // 1. Codes.
  const train = splitList(opts.fsdd, 'train');
  const test = splitList(opts.fsdd, 'test');
  const cacheDir = path.join(RESULTS, 'prior', 'codes');
  let t0 = performance.now();
  const log = (label) => {
    let last = 0;
    return (p) => {
      if (p.itemsDone - last >= 500 || (p.itemsDone === p.itemsTotal && last !== p.itemsDone)) {
        last = p.itemsDone;
        console.log(`  tokenize ${label}: ${p.itemsDone}/${p.itemsTotal}`);
      }
    };
  };
  const trainCodes = await loadTokenizedCodes({ tokenizer: opts.tokenizer, data: train.file, cacheDir, onProgress: log('train') });
  const testCodes = await loadTokenizedCodes({ tokenizer: opts.tokenizer, data: test.file, cacheDir, onProgress: log('test') });
  const tokenizeSeconds = seconds(t0);
  if (trainCodes.tokenizer.id !== tokenizerId || testCodes.tokenizer.id !== tokenizerId) throw new Error(`the tokenizer in ${opts.tokenizer} changed while tokenizing; run again`);
  const levels = opts.levels > 0 ? opts.levels : undefined;
  const trainData = priorDataFromCodes(trainCodes, { classNames: DIGITS, levels });
  const vocab = trainData.vocabulary;
  const testData = priorDataFromCodes(testCodes, { classNames: DIGITS, levels, vocabulary: vocab });
  const { framesPerSecond, tokensPerSecond } = trainData.metadata;
  const frameCounts = trainCodes.items.map((item) => item.shape[0]);
  const rawBitsPerSecond = tokensPerSecond * Math.log2(vocab.codebookSize);
  const tokenizerLevels = trainCodes.tokenizer.codebookSizes.length;
  result.tokenizer = { dir: path.relative(repoRoot, opts.tokenizer), id: tokenizerId, levels: tokenizerLevels, modelledLevels: vocab.levels, codebookSize: vocab.codebookSize, framesPerSecond, rawBitsPerSecond };
  result.codes = {
    train: trainData.sequences.length,
    test: testData.sequences.length,
    errors: trainCodes.errors + testCodes.errors,
    cached: trainCodes.fromCache && testCodes.fromCache,
    seconds: tokenizeSeconds,
    framesPerClip: { median: median(frameCounts), max: Math.max(...frameCounts), min: Math.min(...frameCounts) },
    trainTokens: trainData.sequences.reduce((n, s) => n + s.length - 1, 0),
  };
  console.log(
    `codes: tokenizer ${tokenizerId} (${vocab.levels}${vocab.levels < tokenizerLevels ? ` of ${tokenizerLevels}` : ''} levels × K ${vocab.codebookSize}, ${framesPerSecond} frames/s = ${rawBitsPerSecond} bit/s raw), ` +
      `${trainData.sequences.length} train + ${testData.sequences.length} test utterances, ${result.codes.trainTokens} training tokens ` +
      `(frames per clip: median ${result.codes.framesPerClip.median}, max ${result.codes.framesPerClip.max}; ${result.codes.cached ? 'from cache' : 'tokenized'} in ${tokenizeSeconds.toFixed(0)} s)`,
  );

  // 2. Prior.
  const unigram = unigramBitsPerToken(trainData.sequences, vocab);
  const unigramHeldOut = unigramCrossEntropy(trainData.sequences, testData.sequences, vocab);
  const nPositions = 1 + opts.contextFrames * vocab.levels;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.trainMinutes * 60_000);
  t0 = performance.now();
  const report = await trainPrior({
    model: { vocabulary: vocab, nPositions, nEmbd: opts.embd, nLayer: opts.layers, nHead: opts.heads, seed: opts.seed },
    metadata: { ...trainData.metadata, tokenizerDir: opts.tokenizer },
    train: trainData.sequences,
    validation: testData.sequences,
    maxValidationSequences: 100,
    steps: opts.steps,
    batchSize: opts.batch,
    learningRate: opts.lr,
    classDropout: opts.classDropout,
    windowAlign: vocab.levels,
    seed: opts.seed,
    evalEvery: Math.max(1, Math.floor(opts.steps / 5)),
    signal: controller.signal,
    onProgress: (p) => {
      if (p.validation) console.log(`  step ${p.step}/${p.totalSteps}: train ${fmt(p.bitsPerToken)} bits/token, val ${fmt(p.validation.bitsPerToken)}, ${p.tokensPerSecond.toFixed(0)} tokens/s, ETA ${p.eta.toFixed(0)} s`);
    },
  });
  clearTimeout(timer);
  const trainSeconds = seconds(t0);
  const prior = report.model;

  // 3. Held-out NLL on the whole test split, with the digit and unconditional (BOS prefix).
  t0 = performance.now();
  const evalOptions = { batchSize: 32, windowAlign: vocab.levels, tokensPerSecond };
  const conditional = evaluatePrior(prior, testData.sequences, evalOptions);
  const unconditional = evaluatePrior(prior, testData.sequences.map((s) => Int32Array.of(vocab.bosId, ...s.subarray(1))), evalOptions);
  const evalSeconds = seconds(t0);
  result.prior = {
    parameters: report.parameterCount,
    contextFrames: opts.contextFrames,
    nPositions,
    steps: report.steps,
    stoppedByTimeLimit: report.aborted,
    trainSeconds,
    trainTokensPerSecond: report.tokensPerSecond,
    epochs: report.tokensSeen / result.codes.trainTokens,
    heldOut: { utterances: testData.sequences.length, conditional, unconditional, seconds: evalSeconds },
    unigramBitsPerToken: unigram,
    unigramHeldOutBitsPerToken: unigramHeldOut,
  };
  console.log(
    `prior: ${(report.parameterCount / 1e6).toFixed(2)}M params, context ${opts.contextFrames} frames, ${report.steps} steps${report.aborted ? ' (time limit)' : ''} in ${trainSeconds.toFixed(0)} s ` +
      `(${report.tokensPerSecond.toFixed(0)} tokens/s, ~${result.prior.epochs.toFixed(1)} epochs); held-out ${fmt(conditional.bitsPerToken)} bits/token = ${fmt(conditional.bitsPerSecond, 0)} bit/s with the digit, ` +
      `${fmt(unconditional.bitsPerToken)} = ${fmt(unconditional.bitsPerSecond, 0)} bit/s without; unigram ${fmt(unigram)} (train) / ${fmt(unigramHeldOut)} (held-out cross-entropy)`,
  );

  // 4. Samples of every digit, judged by a classifier trained on real codes.
  t0 = performance.now();
  const K = vocab.codebookSize;
  const features = (items) => items.map((item) => codeHistogram(item.codes, item.shape[0], item.shape[1], K));
  const classify = trainDigitClassifier(features(trainCodes.items), trainCodes.items.map((item) => item.label), 10);
  const classifierSeconds = seconds(t0);
  const testPred = features(testCodes.items).map(classify);
  const classifierAccuracy = testPred.reduce((n, c, i) => n + (c === testCodes.items[i].label ? 1 : 0), 0) / testPred.length;
  const perDigit = [];
  const bySample = {};
  t0 = performance.now();
  let sampledTokens = 0;
  for (let digit = 0; digit < 10; digit++) {
    const frames = opts.frames ?? median(trainCodes.items.filter((item) => item.label === digit).map((item) => item.shape[0]));
    const drawn = samplePrior(prior, { count: opts.judgeSamples, classIndex: digit, frames, temperature: opts.temperature, seed: `digit${digit}` });
    sampledTokens += drawn.reduce((n, s) => n + s.tokens.length, 0);
    const pred = drawn.map((s) => classify(codeHistogram(s.codes, s.frames, vocab.levels, K)));
    perDigit.push(pred.reduce((n, c) => n + (c === digit ? 1 : 0), 0) / drawn.length);
    bySample[digit] = pred;
  }
  const judgeSamplingSeconds = seconds(t0);
  const sampleAccuracy = perDigit.reduce((a, b) => a + b, 0) / 10;
  result.judge = {
    classifier: 'softmax regression on level-0 code histograms of the utterance thirds',
    seconds: classifierSeconds,
    testAccuracy: classifierAccuracy,
    samplesPerDigit: opts.judgeSamples,
    classifiedAsRequested: sampleAccuracy,
    byDigit: Object.fromEntries(perDigit.map((a, d) => [d, a])),
    predictions: bySample,
    samplingTokensPerSecond: sampledTokens / judgeSamplingSeconds,
  };
  console.log(
    `samples: ${(100 * sampleAccuracy).toFixed(1)}% of ${opts.judgeSamples} samples per digit classified as the requested digit (chance 10%; ` +
      `the classifier on real test utterances: ${(100 * classifierAccuracy).toFixed(1)}%); ${result.judge.samplingTokensPerSecond.toFixed(0)} tokens/s`,
  );

  // 5. Samples of one digit, decoded; a real utterance and its reconstruction beside them; the prior.
  const outDir = path.join(RESULTS, vocab.levels < tokenizerLevels ? `prior-audio-${vocab.levels}levels` : 'prior-audio');
  fs.mkdirSync(outDir, { recursive: true });
  for (const f of fs.readdirSync(outDir)) if (f.endsWith('.wav')) fs.rmSync(path.join(outDir, f));
  prior.save(path.join(outDir, 'prior'));
  const digitFrames = trainCodes.items.filter((item) => item.label === opts.digit).map((item) => item.shape[0]);
  const frames = opts.frames ?? median(digitFrames);
  t0 = performance.now();
  const samples = samplePrior(prior, { count: opts.samples, classIndex: opts.digit, frames, temperature: opts.temperature, seed: opts.seed });
  const samplingSeconds = seconds(t0);
  const written = [];
  samples.forEach((s, i) => {
    const file = path.join(outDir, `digit${opts.digit}-sample${i}.wav`);
    fs.writeFileSync(file, encodeWav(tokenizer.decode({ codes: s.codes, frames: s.frames, levels: vocab.levels }), { sampleRate: tokenizer.sampleRate }));
    written.push(path.relative(repoRoot, file));
  });
  const realItem = testCodes.items.find((item) => item.label === opts.digit);
  const realFile = path.join(outDir, `digit${opts.digit}-real-reconstruction.wav`);
  // Reconstructed from the levels the prior models.
  const realCodes = Int32Array.from({ length: realItem.shape[0] * vocab.levels }, (_, i) => realItem.codes[Math.floor(i / vocab.levels) * tokenizerLevels + (i % vocab.levels)]);
  fs.writeFileSync(realFile, encodeWav(tokenizer.decode({ codes: realCodes, frames: realItem.shape[0], levels: vocab.levels }), { sampleRate: tokenizer.sampleRate }));
  const realOriginal = path.join(outDir, `digit${opts.digit}-real.wav`);
  fs.rmSync(realOriginal, { force: true });
  fs.writeFileSync(realOriginal, fs.readFileSync(realItem.name));
  tokenizer.dispose();
  const digitTokens = samples.reduce((n, s) => n + s.tokens.length, 0);
  result.samples = {
    digit: opts.digit,
    frames,
    seconds: frames / framesPerSecond,
    count: samples.length,
    temperature: opts.temperature,
    samplingTokensPerSecond: digitTokens / samplingSeconds,
    files: written,
    realReconstruction: path.relative(repoRoot, realFile),
    real: path.relative(repoRoot, realOriginal),
    realSource: path.basename(realItem.name),
  };
  console.log(`samples: ${samples.length} × digit ${opts.digit}, ${frames} frames (${(frames / framesPerSecond).toFixed(2)} s) at ${result.samples.samplingTokensPerSecond.toFixed(0)} tokens/s → ${path.relative(repoRoot, outDir)}/`);
  prior.dispose();
  result.totalSeconds = seconds(started);

  const rows = [
    ['tokenizer', `${tokenizerId}: ${vocab.levels}${vocab.levels < tokenizerLevels ? ` of ${tokenizerLevels}` : ''} levels × ${vocab.codebookSize} codes, ${framesPerSecond} frames/s (${rawBitsPerSecond} bit/s uncoded)`],
    ['held-out NLL, digit-conditional', `${fmt(conditional.bitsPerToken)} bits/token = ${fmt(conditional.bitsPerSecond, 0)} bit/s (${testData.sequences.length} test utterances)`],
    ['held-out NLL, unconditional', `${fmt(unconditional.bitsPerToken)} bits/token = ${fmt(unconditional.bitsPerSecond, 0)} bit/s`],
    ['unigram entropy of the codes (per level)', `${fmt(unigram)} bits/token on the training codes, ${fmt(unigramHeldOut)} held-out = ${fmt(unigramHeldOut * tokensPerSecond, 0)} bit/s`],
    ['prior', `${(report.parameterCount / 1e6).toFixed(2)}M params (C ${opts.embd}, ${opts.layers} layers), context ${opts.contextFrames} frames`],
    ['training', `${report.steps} steps${report.aborted ? ' (time limit)' : ''}, ${trainSeconds.toFixed(0)} s, ${report.tokensPerSecond.toFixed(0)} tokens/s, ~${result.prior.epochs.toFixed(1)} epochs`],
    ['samples classified as the requested digit', `${(100 * sampleAccuracy).toFixed(1)}% (${opts.judgeSamples} per digit; chance 10%, classifier on real test codes ${(100 * classifierAccuracy).toFixed(1)}%)`],
    ['samples', `${samples.length} × digit ${opts.digit} (${frames} frames) in ${path.relative(repoRoot, outDir)}/`],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`\nspeech prior benchmark (FSDD, ${engine.description}, ${result.totalSeconds.toFixed(0)} s)`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
  const out = path.join(RESULTS, `prior-audio-${result.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`results: ${path.relative(repoRoot, out)}`);
}
