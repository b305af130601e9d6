// Engine benchmark: GEMM throughput and reference VQ-VAE training/inference
// speed on every available backend. Run after the build:
//   npx tsc -b && node bench/engine.mjs [options]
// Options:
//   --threads N        worker threads for vqkit-cpu (default: all cores)
//   --backends a,b     backends to measure (default: vqkit-cpu,cpu)
//   --steps N          timed training steps on vqkit-cpu (default 20)
//   --cpu-steps N      timed training steps on tfjs cpu (default 1; it trains at ~0.2 images/s)
//   --cpu-batch N      batch size for tfjs cpu's VQ-VAE runs (default 16, to keep it to minutes;
//                      its images/s hardly depends on the batch)
//   --data D           fashion (default when the dataset is installed) or random
//   --profile          also print the top kernels of one vqkit-cpu training step
//                      and the GEMM calls it makes (shape, time, GFLOP/s)
//   --quick            fewer repetitions, smaller step counts
//   --check N          first train N steps (batch 8) from the same initial weights
//                      on tfjs cpu and on vqkit-cpu and print both loss curves
// Prints one table and writes bench/results/engine-<timestamp>.json.
// GEMM rates are best-of-N and images/s use the median step: timings on a
// shared machine are noisy.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { initEngine, referenceGemm, vqkitCpuGemm } from '../packages/core/dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// The same tfjs instance @vqkit/core uses (the repository root does not depend on tfjs).
const tf = createRequire(path.join(here, '../packages/core/package.json'))('@tensorflow/tfjs');

// ---------------------------------------------------------------- arguments
function parseArgs(argv) {
  const opts = { check: 0, cpuBatch: 16, threads: undefined, backends: ['vqkit-cpu', 'cpu'], steps: 20, cpuSteps: 1, data: undefined, profile: false, quick: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    const int = () => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 0) throw new Error(`${arg} needs a non-negative integer`);
      return v;
    };
    if (arg === '--threads') opts.threads = int();
    else if (arg === '--backends') opts.backends = value().split(',').filter(Boolean);
    else if (arg === '--steps') opts.steps = int();
    else if (arg === '--cpu-steps') opts.cpuSteps = int();
    else if (arg === '--cpu-batch') opts.cpuBatch = int();
    else if (arg === '--data') opts.data = value();
    else if (arg === '--profile') opts.profile = true;
    else if (arg === '--check') opts.check = int();
    else if (arg === '--quick') opts.quick = true;
    else if (arg === '--help' || arg === '-h') {
      const lines = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
      console.log(lines.slice(0, lines.findIndex((line) => !line.startsWith('//'))).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (see --help)`);
  }
  if (opts.quick) opts.steps = Math.min(opts.steps, 6);
  return opts;
}
let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (err) {
  console.error(`bench/engine: ${err.message}`);
  process.exit(2);
}

// ---------------------------------------------------------------- data
const FASHION = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz';
const BATCH = 64;

function loadImages() {
  const wanted = opts.data ?? (fs.existsSync(FASHION) ? 'fashion' : 'random');
  if (wanted === 'fashion') {
    const raw = gunzipSync(fs.readFileSync(FASHION));
    const count = raw.readUInt32BE(4);
    const pixels = new Float32Array(count * 784);
    for (let i = 0; i < pixels.length; i++) pixels[i] = raw[16 + i] / 255;
    return { name: 'fashion-mnist', count, pixels };
  }
  if (wanted !== 'random') throw new Error(`--data must be fashion or random, got ${wanted}`);
  const count = 4096;
  const pixels = new Float32Array(count * 784);
  let s = 1;
  for (let i = 0; i < pixels.length; i++) pixels[i] = ((s = (s * 1103515245 + 12345) >>> 0) >>> 8) / 16777216;
  return { name: 'random', count, pixels };
}
const images = loadImages();
let cursor = 0;
function nextBatch(size = BATCH) {
  const batch = new Float32Array(size * 784);
  for (let i = 0; i < size; i++) {
    const idx = (cursor++ * 7919) % images.count;
    batch.set(images.pixels.subarray(idx * 784, idx * 784 + 784), i * 784);
  }
  return tf.tensor4d(batch, [size, 28, 28, 1]);
}

// ---------------------------------------------------------------- reference VQ-VAE (benchmark fixture)
/**
 * The reference VQ-VAE: 28×28×1 → conv4x4/s2 (64) → conv4x4/s2 (128, ReLU)
 * → conv3x3 (128) → 2 residual blocks (ReLU, conv3x3 32, ReLU, conv1x1 128)
 * → conv1x1 to D=64; VQ with K=512 codes (straight-through estimator,
 * codebook + 0.25·commitment loss); the decoder mirrors it with
 * conv2dTranspose 4x4/s2.
 */
function createReferenceVqVae(seed = 1) {
  let s = seed;
  const uniform = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 4294967296) * 2 - 1;
  const conv = (kh, kw, cin, cout) => {
    const bound = Math.sqrt(6 / (kh * kw * cin));
    const w = new Float32Array(kh * kw * cin * cout).map(() => uniform() * bound);
    return { w: tf.variable(tf.tensor4d(w, [kh, kw, cin, cout])), b: tf.variable(tf.zeros([cout])) };
  };
  // conv2dTranspose filters are [kh, kw, outChannels, inChannels].
  const convT = (kh, kw, cin, cout) => {
    const bound = Math.sqrt(6 / (kh * kw * cin));
    const w = new Float32Array(kh * kw * cin * cout).map(() => uniform() * bound);
    return { w: tf.variable(tf.tensor4d(w, [kh, kw, cout, cin])), b: tf.variable(tf.zeros([cout])) };
  };
  const res = (ch, hidden) => ({ a: conv(3, 3, ch, hidden), b: conv(1, 1, hidden, ch) });
  const D = 64;
  const K = 512;
  const p = {
    e1: conv(4, 4, 1, 64),
    e2: conv(4, 4, 64, 128),
    e3: conv(3, 3, 128, 128),
    er1: res(128, 32),
    er2: res(128, 32),
    e4: conv(1, 1, 128, D),
    d1: conv(3, 3, D, 128),
    dr1: res(128, 32),
    dr2: res(128, 32),
    d2: convT(4, 4, 128, 64),
    d3: convT(4, 4, 64, 1),
    codebook: tf.variable(tf.tensor2d(new Float32Array(K * D).map(() => uniform() / K), [K, D])),
  };
  const applyConv = (x, l, stride = 1) => tf.add(tf.conv2d(x, l.w, stride, 'same'), l.b);
  const applyConvT = (x, l, outShape) => tf.add(tf.conv2dTranspose(x, l.w, outShape, 2, 'same'), l.b);
  const residual = (x, r) => tf.add(x, applyConv(tf.relu(applyConv(tf.relu(x), r.a)), r.b));
  const stopGradient = tf.customGrad((x) => ({ value: tf.clone(x), gradFunc: (dy) => tf.zerosLike(dy) }));
  // Forward value q, gradient passed straight through to z.
  const straightThrough = tf.customGrad((z, q) => ({ value: tf.clone(q), gradFunc: (dy) => [dy, tf.zerosLike(dy)] }));

  const encode = (x) => {
    let h = tf.relu(applyConv(x, p.e1, 2));
    h = tf.relu(applyConv(h, p.e2, 2));
    h = applyConv(h, p.e3);
    h = residual(residual(h, p.er1), p.er2);
    return applyConv(tf.relu(h), p.e4);
  };
  const quantize = (z) => {
    const flat = tf.reshape(z, [-1, D]);
    const distances = tf.add(
      tf.sub(tf.sum(tf.square(flat), 1, true), tf.mul(2, tf.matMul(flat, p.codebook, false, true))),
      tf.sum(tf.square(p.codebook), 1),
    );
    // Codes are a constant for the gradient: rebuild them off the tape (tfjs's gather gradient rejects int32 inputs on it).
    const codes = tf.tensor1d(tf.argMin(distances, 1).dataSync(), 'int32');
    const q = tf.gather(p.codebook, codes);
    const codebookLoss = tf.mean(tf.squaredDifference(stopGradient(flat), q));
    const commitmentLoss = tf.mean(tf.squaredDifference(flat, stopGradient(q)));
    return { quantized: tf.reshape(straightThrough(flat, q), z.shape), codes, vqLoss: tf.add(codebookLoss, tf.mul(0.25, commitmentLoss)) };
  };
  const decode = (q) => {
    const n = q.shape[0];
    let h = applyConv(q, p.d1);
    h = residual(residual(h, p.dr1), p.dr2);
    h = tf.relu(applyConvT(tf.relu(h), p.d2, [n, 14, 14, 64]));
    return applyConvT(h, p.d3, [n, 28, 28, 1]);
  };
  const variables = Object.values(p).flatMap((v) => (v instanceof tf.Variable ? [v] : Object.values(v).flatMap((u) => (u instanceof tf.Variable ? [u] : Object.values(u)))));
  const optimizer = tf.train.adam(1e-3);
  let codebookInitialised = false;
  /**
   * Data-dependent codebook init (codes = encoder outputs of the first batch,
   * as in vector-quantize-pytorch's kmeans_init without the k-means): with a
   * near-zero codebook the VQ losses first grow for tens of steps while the
   * codebook catches up with the encoder.
   */
  const initCodebook = (x) =>
    tf.tidy(() => {
      const flat = tf.reshape(encode(x), [-1, D]);
      const picks = Array.from({ length: K }, (_, i) => Math.floor((i * flat.shape[0]) / K));
      p.codebook.assign(tf.gather(flat, tf.tensor1d(picks, 'int32')));
    });
  return {
    variables,
    /** Initialises the codebook from a batch (once; `trainStep` does it on its first call otherwise). */
    init(x) {
      if (!codebookInitialised) initCodebook(x);
      codebookInitialised = true;
    },
    /** One Adam step on a batch; returns the loss value. */
    trainStep(x) {
      this.init(x);
      const loss = optimizer.minimize(() => {
        const { quantized, vqLoss } = quantize(encode(x));
        return tf.add(tf.mean(tf.squaredDifference(decode(quantized), x)), vqLoss);
      }, true, variables);
      const value = loss.dataSync()[0];
      loss.dispose();
      return value;
    },
    /** Encode → quantize → decode; returns the reconstruction's first value (forces the computation). */
    infer(x) {
      return tf.tidy(() => decode(quantize(encode(x)).quantized).dataSync()[0]);
    },
    dispose() {
      tf.dispose(variables);
      optimizer.dispose();
    },
  };
}

// ---------------------------------------------------------------- measurements
const now = () => performance.now() / 1000;

/** Tensors left over by the timed steps; without warm-up that includes the optimizer's slot variables. */
function warmupNote(r) {
  return r.warmup > 0 ? `tensor delta ${r.leakedTensorsPerRun}` : `tensor delta ${r.leakedTensorsPerRun} (no warm-up: includes Adam's slots)`;
}

function median(values) {
  const sorted = [...values].sort((p, q) => p - q);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function bestOf(repeats, fn) {
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t0 = now();
    fn();
    best = Math.min(best, now() - t0);
  }
  return best;
}

const GEMM_SHAPES = [
  ['1024³', 1024, 1024, 1024],
  ['25088×288×64', 25088, 288, 64],
];

function gemmEngineRate(engine, m, k, n, repeats) {
  const a = new Float32Array(m * k).fill(0.5);
  const b = new Float32Array(k * n).fill(0.25);
  const c = new Float32Array(m * n);
  engine.sgemm({ m, n, k, a, b, c });
  return (2 * m * n * k) / bestOf(repeats, () => engine.sgemm({ m, n, k, a, b, c })) / 1e9;
}

function matMulRate(m, k, n, repeats) {
  const a = tf.fill([m, k], 0.5);
  const b = tf.fill([k, n], 0.25);
  // Returning nothing from tidy: it would otherwise walk every element of a returned typed array.
  const run = () => tf.tidy(() => {
    tf.matMul(a, b).dataSync();
  });
  run();
  const seconds = bestOf(repeats, run);
  tf.dispose([a, b]);
  return (2 * m * n * k) / seconds / 1e9;
}

function vqvaeRates(steps, inferenceBatches, warmup, batchSize) {
  const model = createReferenceVqVae();
  const batches = Array.from({ length: Math.max(1, Math.min(steps, 8)) }, () => nextBatch(batchSize));
  model.init(batches[0]); // untimed, on every backend
  for (let i = 0; i < warmup; i++) model.trainStep(batches[i % batches.length]);
  const tensorsBefore = tf.memory().numTensors;
  const pool = tf.backend().pool;
  const poolBefore = pool ? { ...pool.stats } : undefined;
  let loss = NaN;
  let firstLoss = NaN;
  // Per-step times: the median is robust to the load spikes of a shared machine.
  const stepSeconds = [];
  for (let i = 0; i < steps; i++) {
    const t0 = now();
    loss = model.trainStep(batches[i % batches.length]);
    stepSeconds.push(now() - t0);
    if (i === 0) firstLoss = loss;
  }
  const poolDelta = poolBefore ? Object.fromEntries(Object.entries(pool.stats).map(([k, v]) => [k, v - poolBefore[k]])) : undefined;
  const leaked = tf.memory().numTensors - tensorsBefore;
  if (warmup === 0) model.infer(batches[0]);
  const inferSeconds = [];
  for (let i = 0; i < inferenceBatches; i++) {
    const t1 = now();
    model.infer(batches[i % batches.length]);
    inferSeconds.push(now() - t1);
  }
  tf.dispose(batches);
  model.dispose();
  return {
    trainImagesPerSecond: batchSize / median(stepSeconds),
    trainBestImagesPerSecond: batchSize / Math.min(...stepSeconds),
    inferImagesPerSecond: batchSize / median(inferSeconds),
    inferBestImagesPerSecond: batchSize / Math.min(...inferSeconds),
    stepSeconds,
    firstLoss,
    lastLoss: loss,
    leakedTensorsPerRun: leaked,
    warmup,
    poolDelta,
  };
}

/** Times every sgemm call of one training step (wrapping the engine instance the kernels captured). */
function traceGemmStep(engine) {
  const model = createReferenceVqVae();
  const x = nextBatch();
  model.trainStep(x);
  const calls = [];
  const sgemm = engine.sgemm;
  engine.sgemm = (call) => {
    const t0 = now();
    sgemm.call(engine, call);
    const seconds = now() - t0;
    const flops = 2 * call.m * call.n * call.k * (call.batch ?? 1);
    calls.push({ shape: `${call.m}x${call.n}x${call.k}${call.transA ? ' tA' : ''}${call.transB ? ' tB' : ''}${call.batch > 1 ? ` b${call.batch}` : ''}`, ms: seconds * 1e3, gflops: flops / seconds / 1e9 });
  };
  const t0 = now();
  model.trainStep(x);
  const stepMs = (now() - t0) * 1e3;
  delete engine.sgemm;
  if (engine.sgemm !== sgemm) engine.sgemm = sgemm;
  x.dispose();
  model.dispose();
  return { stepMs, gemmMs: calls.reduce((p, q) => p + q.ms, 0), calls: calls.sort((p, q) => q.ms - p.ms) };
}

function profileStep() {
  const model = createReferenceVqVae();
  const x = nextBatch();
  model.trainStep(x);
  return tf
    .profile(() => {
      model.trainStep(x);
    })
    .then((info) => {
      const byKernel = new Map();
      for (const k of info.kernels) {
        const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
        entry.ms += k.kernelTimeMs;
        entry.calls += 1;
        byKernel.set(k.name, entry);
      }
      x.dispose();
      model.dispose();
      const total = [...byKernel.values()].reduce((p, q) => p + q.ms, 0);
      return { totalKernelMs: total, kernels: [...byKernel.entries()].map(([name, v]) => ({ name, ...v })).sort((p, q) => q.ms - p.ms) };
    });
}

/** Loss curves of the same model/data on two backends (a model-level parity check). */
async function checkParity(steps) {
  const curves = {};
  for (const backend of ['cpu', 'vqkit-cpu']) {
    await initEngine({ backend, threads: opts.threads });
    cursor = 0;
    const model = createReferenceVqVae();
    curves[backend] = [];
    for (let i = 0; i < steps; i++) {
      const x = nextBatch(8);
      curves[backend].push(model.trainStep(x));
      x.dispose();
    }
    model.dispose();
  }
  const worst = Math.max(...curves.cpu.map((v, i) => Math.abs(v - curves['vqkit-cpu'][i]) / Math.max(Math.abs(v), 1e-12)));
  console.log(`loss curves, batch 8 (max relative difference ${worst.toExponential(2)}):`);
  for (const [backend, curve] of Object.entries(curves)) console.log(`  ${backend.padEnd(10)} ${curve.map((v) => v.toFixed(5)).join(' ')}`);
  return { curves, maxRelativeDifference: worst };
}

// ---------------------------------------------------------------- run
const repeats = opts.quick ? 2 : 4;
const rows = [];
const results = { date: new Date().toISOString(), host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version }, data: images.name, batch: BATCH, rows };
const row = (backend, metric, value, unit, note = '') => {
  rows.push({ backend, metric, value, unit, note });
  process.stderr.write(`  ${backend} ${metric}: ${value.toFixed(2)} ${unit}\n`);
};

if (opts.check > 0) results.check = await checkParity(opts.check);
for (const backend of opts.backends) {
  let info;
  try {
    info = await initEngine({ backend, threads: opts.threads });
  } catch (err) {
    rows.push({ backend, metric: 'unavailable', value: NaN, unit: '', note: err.message });
    continue;
  }
  const label = backend === 'vqkit-cpu' ? `vqkit-cpu` : backend;
  process.stderr.write(`${info.description}\n`);
  if (backend === 'vqkit-cpu') {
    const gemm = vqkitCpuGemm()?.engine ?? referenceGemm;
    results.vqkitCpu = info.description;
    for (const [shape, m, k, n] of GEMM_SHAPES) row(`GemmEngine ${gemm.name}`, `sgemm ${shape}`, gemmEngineRate(gemm, m, k, n, repeats), 'GFLOP/s', `best of ${repeats}`);
  }
  const slow = backend === 'cpu';
  for (const [shape, m, k, n] of GEMM_SHAPES) row(label, `tf.matMul ${shape}`, matMulRate(m, k, n, slow ? 1 : repeats), 'GFLOP/s', slow ? 'one run' : `best of ${repeats}`);
  const steps = slow ? opts.cpuSteps : opts.steps;
  if (steps > 0) {
    const batchSize = slow ? opts.cpuBatch : BATCH;
    const r = vqvaeRates(steps, slow ? 1 : Math.max(4, steps), slow ? 0 : 2, batchSize);
    if (r.poolDelta) results.poolDuringTraining = r.poolDelta;
    row(label, 'VQ-VAE train', r.trainImagesPerSecond, 'images/s', `median of ${steps} steps of ${batchSize} (best ${r.trainBestImagesPerSecond.toFixed(1)}), loss ${r.firstLoss.toFixed(3)} → ${r.lastLoss.toFixed(3)}, ${warmupNote(r)}`);
    row(label, 'VQ-VAE inference', r.inferImagesPerSecond, 'images/s', `median over batches of ${batchSize} (best ${r.inferBestImagesPerSecond.toFixed(1)})`);
  }
  if (opts.profile && backend === 'vqkit-cpu') {
    results.profile = await profileStep();
    const engine = vqkitCpuGemm()?.engine;
    if (engine) results.gemmTrace = traceGemmStep(engine);
  }
}

// ---------------------------------------------------------------- report
const table = [['backend', 'metric', 'value', 'unit', 'note'], ...rows.map((r) => [r.backend, r.metric, Number.isNaN(r.value) ? '-' : r.value.toFixed(r.value >= 100 ? 0 : 2), r.unit, r.note])];
const widths = table[0].map((_, c) => Math.max(...table.map((r) => String(r[c]).length)));
console.log(`vqkit engine benchmark (${images.name} data, batch ${BATCH}${results.vqkitCpu ? `, ${results.vqkitCpu}` : ''})`);
for (const [i, r] of table.entries()) {
  console.log(r.map((cell, c) => (c === 2 ? String(cell).padStart(widths[c]) : String(cell).padEnd(widths[c]))).join('  ').trimEnd());
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}
if (results.profile) {
  console.log(`\nprofile of one vqkit-cpu training step (kernel time ${results.profile.totalKernelMs.toFixed(1)} ms):`);
  for (const k of results.profile.kernels.slice(0, 15)) console.log(`  ${k.name.padEnd(24)} ${k.ms.toFixed(1).padStart(8)} ms  ${String(k.calls).padStart(4)} calls`);
}
if (results.gemmTrace) {
  const t = results.gemmTrace;
  console.log(`\nGEMM calls of one training step: ${t.gemmMs.toFixed(1)} ms of a ${t.stepMs.toFixed(1)} ms step`);
  for (const c of t.calls.slice(0, 20)) console.log(`  ${c.shape.padEnd(28)} ${c.ms.toFixed(2).padStart(8)} ms  ${c.gflops.toFixed(1).padStart(6)} GFLOP/s`);
}
const outDir = path.join(here, 'results');
fs.mkdirSync(outDir, { recursive: true });
const outFile = path.join(outDir, `engine-${results.date.replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nwrote ${path.relative(process.cwd(), outFile)}`);
vqkitCpuGemm()?.engine.dispose();
