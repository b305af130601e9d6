// Inference throughput of the image tokenizers on ONNX Runtime vs TF.js, and
// ONNX ↔ TF.js parity on the Fashion-MNIST test set.
//
//   pnpm bench infer                      (run under the heavy-work lock on a shared machine)
//   options: --fmnist DIR    Fashion-MNIST tokenizer (default bench/results/tokenizers/fmnist-f4,
//                            else fmnist-f4-small, else an untrained fmnist-f4 preset model)
//            --kodak DIR     Kodak tokenizer (default bench/results/tokenizers/kodak-f8, else an
//                            untrained kodak-f8 preset model)
//            --seconds S     time per measurement (default 3)
//            --max-test N    test images for parity (default 10000, the whole test set)
//            --threads N     ONNX Runtime intra-op threads (default: ORT's choice)
//            --backend B     TF.js backend (default auto)
//
// Throughput is images/s of the model call alone (pixels in memory → codes,
// codes → pixels), at batch 1 and 256 (Fashion-MNIST 28×28×1) and batch 1
// and 16 (256×256 RGB crops of Kodak photos). Both paths get the same batch.
// ONNX Runtime is measured with thread spinning off (vqkit's default: it
// shares the process with TF.js) and on (a process doing only ONNX inference).
// The contenders of one row run in alternating rounds, so on a shared machine
// they see the same load; the load average is printed and recorded.
// Untrained models have the trained ones' architecture, so their speed is the
// same; parity on them is still a valid check of the graphs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { initEngine } from '../packages/core/dist/index.js';
import { ImageOnnxRuntime, ImageTokenizer, exportImageTokenizerToOnnx, imagePreset, loadImage, readIdxImages } from '../packages/image/dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const dataRoot = process.env.VQKIT_DATA_DIR ?? path.resolve(repoRoot, '../shared/data');
const fmnistDir = process.env.VQKIT_FMNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
const tokenizersDir = path.join(here, 'results/tokenizers');
const tf = createRequire(path.join(repoRoot, 'packages/core/package.json'))('@tensorflow/tfjs');

function parseArgs(argv) {
  const opts = { fmnist: undefined, kodak: undefined, seconds: 3, maxTest: 10000, threads: undefined, backend: 'auto' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--fmnist') opts.fmnist = next();
    else if (arg === '--kodak') opts.kodak = next();
    else if (arg === '--seconds') opts.seconds = Number(next());
    else if (arg === '--max-test') opts.maxTest = Number(next());
    else if (arg === '--threads') opts.threads = Number(next());
    else if (arg === '--backend') opts.backend = next();
    else if (arg === '--help' || arg === '-h') {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(0, 22).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (see --help)`);
  }
  return opts;
}
const opts = parseArgs(process.argv.slice(2));

const isTokenizer = (dir) => fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'model.safetensors'));

/** A trained tokenizer from the candidates, else an untrained one of the preset's architecture. */
async function tokenizerFor(explicit, candidates, preset) {
  for (const dir of explicit ? [explicit] : candidates.map((c) => path.join(tokenizersDir, c))) {
    if (isTokenizer(dir)) return { tokenizer: await ImageTokenizer.load(dir, { runtime: 'tfjs' }), source: path.relative(repoRoot, dir) };
    if (explicit) throw new Error(`${explicit} is not a tokenizer directory`);
  }
  const config = imagePreset(preset).config;
  return { tokenizer: ImageTokenizer.create({ ...config, quantizer: { ...config.quantizer, kmeansInit: false } }), source: `untrained ${preset} preset` };
}

/**
 * images/s of each contender (async functions processing `items` images per
 * call): after a warm-up call each (graph optimisation, kernel selection,
 * allocations), the contenders take turns in ROUNDS slices of
 * `seconds / ROUNDS` each, so a load that comes and goes hits all of them alike.
 */
const ROUNDS = 6;
async function throughputs(items, contenders) {
  const entries = Object.entries(contenders);
  for (const [, fn] of entries) await fn();
  const acc = Object.fromEntries(entries.map(([k]) => [k, { n: 0, ms: 0, cpuMs: 0 }]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, fn] of entries) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      do {
        await fn();
        acc[k].n += items;
      } while (performance.now() - t0 < (opts.seconds * 1000) / ROUNDS);
      const c = process.cpuUsage(c0);
      acc[k].ms += performance.now() - t0;
      acc[k].cpuMs += (c.user + c.system) / 1000;
    }
  }
  // images/s of wall-clock time, and images per CPU-second of the whole process (all threads).
  return Object.fromEntries(entries.map(([k]) => [k, { wall: (acc[k].n / acc[k].ms) * 1000, cpu: (acc[k].n / acc[k].cpuMs) * 1000 }]));
}

async function exportTo(tokenizer) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-bench-onnx-'));
  exportImageTokenizerToOnnx(tokenizer, dir);
  return {
    dir,
    runtime: await ImageOnnxRuntime.open(dir, tokenizer.id, { threads: opts.threads }),
    spinning: await ImageOnnxRuntime.open(dir, tokenizer.id, { threads: opts.threads, spinning: true }),
  };
}

/** Encode/decode images/s on both paths for a [batch, H, W, C] input. */
async function measure(tokenizer, onnx, pixels, shape) {
  const model = tokenizer.model;
  const input = tf.tensor4d(pixels, shape);
  const codes = model.encode(input);
  const codesData = codes.dataSync();
  const batch = shape[0];
  const enc = await throughputs(batch, {
    tfjs: async () => tf.tidy(() => model.encode(input)).dispose(),
    onnx: () => onnx.runtime.encode(pixels, shape),
    onnxSpin: () => onnx.spinning.encode(pixels, shape),
  });
  const dec = await throughputs(batch, {
    tfjs: async () => tf.tidy(() => model.decode(codes)).dispose(),
    onnx: () => onnx.runtime.decode(codesData, codes.shape),
    onnxSpin: () => onnx.spinning.decode(codesData, codes.shape),
  });
  tf.dispose([input, codes]);
  const pick = (m) => ({
    tfjsEncode: enc.tfjs[m], onnxEncode: enc.onnx[m], onnxSpinEncode: enc.onnxSpin[m],
    tfjsDecode: dec.tfjs[m], onnxDecode: dec.onnx[m], onnxSpinDecode: dec.onnxSpin[m],
  });
  return { ...pick('wall'), perCpuSecond: pick('cpu') };
}

/** Codes and pixels of both paths over the whole test set; mismatching codes are checked for ties. */
async function parity(tokenizer, runtime, images, count) {
  const model = tokenizer.model;
  const [H, W] = [images.height, images.width];
  const chunk = 500;
  let mismatches = 0;
  let maxRelativeGap = 0;
  let maxPixelDiff = 0;
  let codesCompared = 0;
  const codebook = Float64Array.from(model.quantizer.codeVectors(tf.range(0, model.quantizer.codebookSizes[0], 1, 'int32')).dataSync());
  const D = codebook.length / model.quantizer.codebookSizes[0];
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const pixels = Float32Array.from(images.data.subarray(start * H * W, (start + n) * H * W), (v) => v / 255);
    const shape = [n, H, W, 1];
    const input = tf.tensor4d(pixels, shape);
    const ref = tf.tidy(() => model.encode(input));
    const refCodes = ref.dataSync();
    const got = await runtime.encode(pixels, shape);
    const latents = tf.tidy(() => model.encodeLatents(input)).dataSync();
    for (let i = 0; i < refCodes.length; i++) {
      codesCompared++;
      if (refCodes[i] === got.codes[i]) continue;
      mismatches++;
      // Distances (in float64) from the latent to the two chosen codes: a tie has a gap at float32 rounding level.
      const dist = (k) => {
        let s = 0;
        for (let d = 0; d < D; d++) s += (latents[i * D + d] - codebook[k * D + d]) ** 2;
        return s;
      };
      const a = dist(refCodes[i]);
      const b = dist(got.codes[i]);
      maxRelativeGap = Math.max(maxRelativeGap, Math.abs(a - b) / Math.max(a, b, 1e-30));
    }
    const decoded = tf.tidy(() => model.decode(ref)).dataSync();
    const onnxDecoded = await runtime.decode(refCodes, ref.shape);
    for (let i = 0; i < decoded.length; i++) maxPixelDiff = Math.max(maxPixelDiff, Math.abs(decoded[i] - onnxDecoded.pixels[i]));
    tf.dispose([input, ref]);
  }
  return { images: count, codesCompared, mismatches, maxRelativeGap, maxPixelDiff };
}

async function kodakCrops(count, size) {
  const dir = path.join(dataRoot, 'images/kodak');
  const pixels = new Float32Array(count * size * size * 3);
  for (let i = 0; i < count; i++) {
    const img = await loadImage(path.join(dir, `kodim${String(13 + (i % 12)).padStart(2, '0')}.png`), { channels: 3 });
    for (let y = 0; y < size; y++) pixels.set(img.data.subarray(y * img.width * 3, y * img.width * 3 + size * 3), (i * size + y) * size * 3);
  }
  return pixels;
}

const fmt = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

const engine = await initEngine({ backend: opts.backend });
console.log(`TF.js backend: ${engine.description}; ONNX Runtime intra-op threads: ${opts.threads ?? 'default'}; ${os.cpus().length} CPUs`);
const rows = [];
const results = { engine: engine.description, threads: opts.threads ?? null, seconds: opts.seconds, cpu: os.cpus()[0]?.model, loadAverage: { start: os.loadavg(), end: undefined }, rows, parity: undefined };

const fmnist = await tokenizerFor(opts.fmnist, ['fmnist-f4', 'fmnist-f4-small'], 'fmnist-f4');
console.log(`Fashion-MNIST tokenizer: ${fmnist.source}`);
const fm = await exportTo(fmnist.tokenizer);
const test = await readIdxImages(path.join(fmnistDir, 't10k-images-idx3-ubyte.gz'));
for (const batch of [1, 256]) {
  const pixels = Float32Array.from(test.data.subarray(0, batch * 28 * 28), (v) => v / 255);
  rows.push({ model: 'fmnist 28x28x1', batch, ...(await measure(fmnist.tokenizer, fm, pixels, [batch, 28, 28, 1])) });
}
const count = Math.min(opts.maxTest, test.count);
results.parity = await parity(fmnist.tokenizer, fm.runtime, test, count);

const kodak = await tokenizerFor(opts.kodak, ['kodak-f8'], 'kodak-f8');
console.log(`Kodak tokenizer: ${kodak.source}`);
const kd = await exportTo(kodak.tokenizer);
for (const batch of [1, 16]) {
  rows.push({ model: 'kodak 256x256x3', batch, ...(await measure(kodak.tokenizer, kd, await kodakCrops(batch, 256), [batch, 256, 256, 3])) });
}

const ratio = (a, b) => `${fmt(a)} (${(a / b).toFixed(1)}x)`;
const table = (title, get) => {
  console.log(`\n${title.padEnd(24)}   TF.js enc   ONNX enc (vs TF.js)  ONNX enc spin   TF.js dec   ONNX dec (vs TF.js)  ONNX dec spin`);
  for (const row of rows) {
    const r = get(row);
    console.log(
      `${row.model.padEnd(17)} b=${String(row.batch).padEnd(4)} ${fmt(r.tfjsEncode).padStart(11)} ${ratio(r.onnxEncode, r.tfjsEncode).padStart(19)} ${ratio(r.onnxSpinEncode, r.tfjsEncode).padStart(15)}` +
        ` ${fmt(r.tfjsDecode).padStart(11)} ${ratio(r.onnxDecode, r.tfjsDecode).padStart(19)} ${ratio(r.onnxSpinDecode, r.tfjsDecode).padStart(15)}`,
    );
  }
};
table('images/s', (r) => r);
table('images per CPU-second', (r) => r.perCpuSecond);
results.loadAverage.end = os.loadavg();
console.log(`\nload average (1/5/15 min) at start ${results.loadAverage.start.map((v) => v.toFixed(2)).join(' ')}, at end ${results.loadAverage.end.map((v) => v.toFixed(2)).join(' ')} on ${os.cpus().length} CPUs`);
const p = results.parity;
console.log(
  `\nparity on ${p.images} Fashion-MNIST test images (${p.codesCompared} codes): ${p.mismatches} differing codes` +
    (p.mismatches ? ` (largest relative distance gap between the two choices ${p.maxRelativeGap.toExponential(2)}: ties)` : '') +
    `; decoded pixels max |Δ| ${p.maxPixelDiff.toExponential(2)}`,
);
results.tokenizers = { fmnist: fmnist.source, kodak: kodak.source };
fs.mkdirSync(path.join(here, 'results'), { recursive: true });
const out = path.join(here, 'results', `infer-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${path.relative(repoRoot, out)}`);
for (const r of [fm, kd]) {
  await r.runtime.release();
  await r.spinning.release();
  fs.rmSync(r.dir, { recursive: true, force: true });
}
