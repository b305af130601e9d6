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
//   --study          instead: codebook-usage study of the training aids (k-means
//                    init, dead-code restart) on 4x4 Fashion-MNIST patches
//                    (random data when the dataset is absent)
// Timings are best-of-R: the machine is shared and noisy.
import fs from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { FiniteScalarQuantizer, ResidualVectorQuantizer, VectorQuantizer, initEngine } from '../packages/core/dist/index.js';
import { benchOptions } from './lib/common.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const tf = createRequire(path.join(here, '../packages/core/package.json'))('@tensorflow/tfjs');

const opts = benchOptions(import.meta.url, {
  backends: { type: 'list', default: ['vqkit-cpu', 'cpu'] },
  n: { type: 'integer', default: 4096 },
  dim: { type: 'integer', default: 64 },
  k: { type: 'integer', default: 512 },
  reps: { type: 'integer', default: 3 },
  study: { type: 'boolean', default: false },
});

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

/** 4x4 patches of the first `images` Fashion-MNIST training images as [count, 16] in [0, 1]. */
function patches(images) {
  const FASHION = process.env.VQKIT_FASHION ?? '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz';
  const out = new Float32Array(images * 49 * 16);
  if (!fs.existsSync(FASHION)) {
    for (let i = 0; i < out.length; i++) out[i] = Math.random();
    return { data: out, source: 'random' };
  }
  const raw = gunzipSync(fs.readFileSync(FASHION));
  let p = 0;
  for (let img = 0; img < images; img++) {
    const base = 16 + img * 784;
    for (let py = 0; py < 28; py += 4) for (let px = 0; px < 28; px += 4) for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) out[p++] = raw[base + (py + y) * 28 + px + x] / 255;
  }
  return { data: out, source: 'fashion-mnist' };
}

/** Online VQ on patches: how much of the codebook each training aid keeps alive. */
async function study() {
  const info = await initEngine({ backend: opts.backends[0] });
  const { data, source } = patches(2000);
  const count = data.length / 16;
  const all = tf.tensor2d(data, [count, 16]);
  const batch = 1024;
  const steps = 300;
  const configs = [
    ['random init, no restart', { kmeansInit: false, restartThreshold: 0 }],
    ['random init + restart', { kmeansInit: false }],
    ['k-means init, no restart', { restartThreshold: 0 }],
    ['k-means init + restart (default)', {}],
  ];
  console.log(`${source} 4x4 patches (${count} vectors), K=256, batch ${batch}, ${steps} EMA steps on ${info.description}`);
  console.log(['config', 'used fraction', 'perplexity', 'patch MSE', 'restarts'].join('\t'));
  for (const [name, extra] of configs) {
    const vq = new VectorQuantizer({ codebookSize: 256, dim: 16, seed: 1, ...extra });
    for (let step = 0; step < steps; step++) {
      const start = (step * batch) % (count - batch);
      tf.tidy(() => vq.forward(all.slice([start, 0], [batch, 16]), { training: true }));
      vq.afterStep();
    }
    vq.resetUsage();
    const mse = tf.tidy(() => {
      const out = vq.forward(all);
      vq.trackUsage(out.codes);
      return tf.mean(tf.square(tf.sub(out.quantized, all))).dataSync()[0];
    });
    const usage = vq.usage();
    console.log([name, usage.usedFraction[0].toFixed(3), usage.perplexity[0].toFixed(1), mse.toFixed(5), vq.restartCount].join('\t'));
    vq.dispose();
  }
  all.dispose();
}

if (opts.study) {
  await study();
  process.exit(0);
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
