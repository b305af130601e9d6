// Quantizer benchmark: k-means initialisation, inference and training-step
// time of VectorQuantizer ('ema' and 'loss'), ResidualVectorQuantizer and
// FiniteScalarQuantizer on a latent batch. Run after the build:
//   npx tsc -b && node bench/quantizers.mjs [options]
// Options:
//   --backends a,b   backends to measure (default: vqkit-cpu,cpu)
//   --n N            latent vectors per batch (default 4096, e.g. 16 images of 16x16 latents)
//   --dim D          latent dimension (default 64)
//   --k K            codebook size (default 512; RVQ uses 4 levels of K/2)
//   --reps R         repetitions; the best is printed (default 3)
// Timings are best-of-R: the machine is shared and noisy.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { FiniteScalarQuantizer, ResidualVectorQuantizer, VectorQuantizer, initEngine } from '../packages/core/dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tf = createRequire(path.join(here, '../packages/core/package.json'))('@tensorflow/tfjs');

function parseArgs(argv) {
  const opts = { backends: ['vqkit-cpu', 'cpu'], n: 4096, dim: 64, k: 512, reps: 3 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    const int = () => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 1) throw new Error(`${arg} needs a positive integer`);
      return v;
    };
    if (arg === '--backends') opts.backends = value().split(',').filter(Boolean);
    else if (arg === '--n') opts.n = int();
    else if (arg === '--dim') opts.dim = int();
    else if (arg === '--k') opts.k = int();
    else if (arg === '--reps') opts.reps = int();
    else if (arg === '--help' || arg === '-h') {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(0, 11).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (see --help)`);
  }
  return opts;
}
const opts = parseArgs(process.argv.slice(2));

function best(reps, fn) {
  let min = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    fn();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}

function measure(name, make, x) {
  const quantizer = make();
  const t0 = performance.now();
  tf.tidy(() => quantizer.forward(x, { training: true }).codes.dataSync());
  quantizer.afterStep();
  const init = performance.now() - t0;
  const inference = best(opts.reps, () => tf.tidy(() => quantizer.forward(x).codes.dataSync()));
  const step = best(opts.reps, () => {
    tf.tidy(() => {
      const [g] = tf.grads((input) => {
        const out = quantizer.forward(input, { training: true });
        return tf.add(tf.mean(tf.square(out.quantized)), out.loss);
      })([x]);
      g.dataSync();
    });
    quantizer.afterStep();
  });
  quantizer.dispose();
  return { name, init, inference, step };
}

const rows = [];
for (const backend of opts.backends) {
  let info;
  try {
    info = await initEngine({ backend });
  } catch (err) {
    console.log(`${backend}: skipped (${err.message})`);
    continue;
  }
  const { n, dim, k } = opts;
  const x = tf.randomNormal([n, dim], 0, 1, 'float32', 1);
  const cases = [
    [`VQ ema K=${k}`, () => new VectorQuantizer({ codebookSize: k, dim })],
    [`VQ loss K=${k}`, () => new VectorQuantizer({ codebookSize: k, dim, codebook: 'loss' })],
    [`RVQ 4x${k / 2}`, () => new ResidualVectorQuantizer({ levels: 4, codebookSize: k / 2, dim })],
    ['FSQ [8,5,5,5]', () => new FiniteScalarQuantizer({ levels: [8, 5, 5, 5], dim })],
  ];
  for (const [name, make] of cases) rows.push({ backend: info.description, ...measure(name, make, x) });
  x.dispose();
}
console.log(`N=${opts.n} vectors of D=${opts.dim}; ms, best of ${opts.reps} (first step includes k-means init)`);
console.log(['backend', 'quantizer', 'first step', 'inference', 'train step'].join('\t'));
for (const r of rows) console.log([r.backend, r.name, r.init.toFixed(0), r.inference.toFixed(0), r.step.toFixed(0)].join('\t'));
