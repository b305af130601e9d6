// Rate–distortion of vqkit image compression against JPEG (mozjpeg), WebP and
// AVIF through sharp, on the Fashion-MNIST test set and Kodak kodim13–24.
//
// vqkit: each tokenizer is one operating point (its code grid); its file is
// the whole .vqt container (header + payload + CRC, every byte a real file
// needs) with the entropy model `compressImage` picks ('auto'); payload-only
// figures and the bits every entropy model takes are reported too. Codecs:
// quality sweeps, whole files as sharp writes them (no metadata), PSNR/SSIM
// of the decoded 8-bit pixels; "at matched bpp" interpolates each codec's
// curve linearly at vqkit's bpp (n/a outside the swept range, e.g. below a
// codec's smallest possible file).
//
// Tokenizers: bench/results/tokenizers/<name>/ (written by `pnpm bench image`),
// falling back to bench/results/tokenizers-dev/<name>/. Names starting with
// "fmnist" run on Fashion-MNIST, "kodak" on Kodak. A learned entropy model is
// fitted on training codes (Fashion-MNIST train / kodim01–12) when the
// tokenizer directory has no entropy.bin; --prior DIR adds a Transformer
// prior trained on a tokenizer's codes (option --prior-for NAME).
//
//   pnpm bench compress [--tokenizers fmnist-f4,kodak-f8] [--fmnist-images 1000] [--no-avif]
//                       [--sets fmnist,kodak] [--codecs JPEG,WebP,AVIF] [--codecs-only]
//                       [--fit-images 60000] [--prior DIR --prior-for fmnist-f4 --prior-images 100] [--backend B]
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { adaptiveSpec, fixedLengthSpec, initEngine, measureCodeBits, uniformSpec } from '../packages/core/dist/index.js';
import {
  fitEntropyModelToCodes,
  gridShape,
  ImageTokenizer,
  imageCodeSpace,
  lineChart,
  loadEntropyModel,
  loadImageU8,
  packImageCodes,
  psnr,
  readIdxImages,
  ssim,
  unpackImageCodes,
} from '../packages/image/dist/index.js';
import { benchOptions, dataRoot, FMNIST_DIRS, isTokenizerDir, repoRoot, resultsDir, writeResult } from './lib/common.mjs';

// sharp is a dependency of @vqkit/image (the codecs vqkit is compared with are the ones its IO uses).
const sharp = createRequire(path.join(repoRoot, 'packages/image/package.json'))('sharp');
const DEFAULT_TOKENIZERS = ['fmnist-f4', 'fmnist-f2', 'kodak-f4', 'kodak-f8'];
const PSNR_CAP = 100;

const SWEEP_VERSION = 1;
const SWEEPS = {
  JPEG: { qualities: [1, 2, 3, 5, 8, 10, 15, 20, 30, 40, 50, 60, 75, 90], encode: (s, q) => s.jpeg({ quality: q, mozjpeg: true }) },
  WebP: { qualities: [1, 3, 5, 10, 20, 30, 40, 50, 60, 75, 90], encode: (s, q) => s.webp({ quality: q }) },
  AVIF: { qualities: [2, 10, 20, 30, 40, 55, 70], encode: (s, q) => s.avif({ quality: q, chromaSubsampling: '4:2:0' }) },
};

function parseOptions() {
  const opts = benchOptions(import.meta.url, {
    tokenizers: { type: 'list' },
    sets: { type: 'list', default: ['fmnist', 'kodak'] },
    codecs: { type: 'list', default: Object.keys(SWEEPS) },
    noAvif: { type: 'boolean', default: false },
    codecsOnly: { type: 'boolean', default: false },
    fmnistImages: { type: 'integer', default: 1000 },
    fitImages: { type: 'integer', default: 60000 },
    prior: { type: 'string' },
    priorFor: { type: 'string', default: 'fmnist-f4' },
    priorImages: { type: 'integer', default: 100 },
    backend: { type: 'string' },
  });
  if (opts.noAvif) opts.codecs = opts.codecs.filter((c) => c !== 'AVIF');
  delete opts.noAvif;
  return opts;
}

function findTokenizer(name) {
  for (const base of ['tokenizers', 'tokenizers-dev']) {
    const dir = path.join(resultsDir, base, name);
    if (isTokenizerDir(dir)) return dir;
  }
  return undefined;
}

async function fmnist(split, limit) {
  const dir = FMNIST_DIRS.find((d) => fs.existsSync(path.join(d, `${split}-images-idx3-ubyte.gz`)));
  if (!dir) throw new Error('Fashion-MNIST not found');
  const idx = await readIdxImages(path.join(dir, `${split}-images-idx3-ubyte.gz`));
  const n = Math.min(limit, idx.count);
  const per = idx.height * idx.width;
  return Array.from({ length: n }, (_, i) => ({ data: idx.data.subarray(i * per, (i + 1) * per), width: idx.width, height: idx.height, channels: 1 }));
}

async function kodak(from, to) {
  const out = [];
  for (let i = from; i <= to; i++) out.push(await loadImageU8(path.join(dataRoot, 'images/kodak', `kodim${String(i).padStart(2, '0')}.png`), { channels: 3 }));
  return out;
}

const toFloat = (img) => ({ data: Float32Array.from(img.data, (v) => v / 255), width: img.width, height: img.height, channels: img.channels });
const toU8 = (img) => ({ ...img, data: Uint8Array.from(img.data, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255)) });

function quality(a, b) {
  let s;
  try {
    s = ssim(a.data, b.data, a);
  } catch {
    s = NaN;
  }
  return { psnr: Math.min(PSNR_CAP, psnr(a.data, b.data)), ssim: s };
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** One codec at one quality over all images: mean bytes, bpp, PSNR, SSIM. */
async function codecPoint(images, encode, q) {
  const rows = [];
  for (let start = 0; start < images.length; start += 16) {
    const chunk = images.slice(start, start + 16);
    rows.push(
      ...(await Promise.all(
        chunk.map(async (img) => {
          let pipeline = sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: img.channels } });
          // Grey input stays one channel (sharp would otherwise write an sRGB JPEG, ~70% larger).
          if (img.channels === 1) pipeline = pipeline.toColourspace('b-w');
          const file = await encode(pipeline, q).toBuffer();
          const decoded = await loadImageU8(file, { channels: img.channels });
          return { bytes: file.length, bpp: (8 * file.length) / (img.width * img.height), ...quality(img, decoded) };
        }),
      )),
    );
  }
  return { quality: q, bytes: mean(rows.map((r) => r.bytes)), bpp: mean(rows.map((r) => r.bpp)), psnr: mean(rows.map((r) => r.psnr)), ssim: mean(rows.map((r) => r.ssim)) };
}

/** Linear interpolation of `key` on a curve sorted by `by` at value v; undefined outside the range. */
function interpolate(curve, by, key, v) {
  const pts = [...curve].sort((a, b) => a[by] - b[by]);
  if (pts.length === 0 || v < pts[0][by] || v > pts[pts.length - 1][by]) return undefined;
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1];
    const b = pts[i];
    if (v <= b[by]) return b[by] === a[by] ? b[key] : a[key] + ((v - a[by]) / (b[by] - a[by])) * (b[key] - a[key]);
  }
  return pts[pts.length - 1][key];
}

function encodeAll(tokenizer, images) {
  // Large photos one at a time (full-resolution activations are big); small images in batches.
  const batch = images[0].width * images[0].height > 65536 ? 1 : 128;
  const out = [];
  for (let i = 0; i < images.length; i += batch) out.push(...tokenizer.encodeImages(images.slice(i, i + batch).map(toFloat)));
  return out;
}

/**
 * (d) The Transformer prior as entropy model, on the first test images only
 * (it runs the prior once per code): bits per code against the other models
 * on the same images, and the files 'auto' writes when the prior is a candidate.
 */
async function evaluatePrior(opts, space, codes, images, rows, learnedModel, specs) {
  const { PriorModel, priorEntropyModel } = await import('../packages/prior/dist/index.js');
  const priorModel = PriorModel.load(opts.prior);
  const prior = priorEntropyModel(priorModel);
  const sizes = space.codebookSizes;
  const t0 = performance.now();
  let bytes = 0;
  let withoutPrior = 0;
  let chosen = 0;
  for (const [i, c] of codes.entries()) {
    const packed = packImageCodes(c, space, { entropyModel: 'auto', learnedModel, prior });
    const back = unpackImageCodes(packed.bytes, space, { learnedModel, prior });
    if (back.codes.codes.some((v, j) => v !== c.codes[j])) throw new Error(`prior: image ${i} does not round-trip`);
    bytes += packed.bytes.length;
    withoutPrior += rows[i].bytes;
    if (packed.stats.entropyModel === 'external') chosen++;
  }
  const seconds = (performance.now() - t0) / 1000;
  const tensors = codes.map((c) => ({ codes: c.codes, shape: gridShape(c.shape, sizes.length) }));
  const bits = measureCodeBits(tensors, sizes, { ...specs, prior }).map((r) => ({ model: r.name, bitsPerCode: r.bitsPerCode, idealBitsPerCode: r.idealBits / r.codes }));
  prior.dispose();
  priorModel.dispose();
  const pixels = images.reduce((n, img) => n + img.width * img.height, 0);
  return { images: codes.length, bits, bpp: (8 * bytes) / pixels, bppWithoutPrior: (8 * withoutPrior) / pixels, chosen, codeAndVerifySecondsPerImage: seconds / codes.length };
}

async function evaluateTokenizer(name, dir, test, train, opts) {
  const tokenizer = await ImageTokenizer.load(dir);
  const space = imageCodeSpace(tokenizer);
  const sizes = tokenizer.codebookSizes;
  const t0 = Date.now();
  const trainCodes = encodeAll(tokenizer, train);
  const fitted = {
    static: fitEntropyModelToCodes(trainCodes, sizes, { context: 'none', adaptive: false }),
    neighbour: fitEntropyModelToCodes(trainCodes, sizes, { context: 'left-up', adaptive: false }),
    // What fitEntropyModel ships by default: neighbour contexts, plus per-image adaptation when it helps on held-out images.
    default: fitEntropyModelToCodes(trainCodes, sizes),
  };
  const shipped = loadEntropyModel(dir);
  const learnedModel = shipped ?? fitted.default;
  const codes = encodeAll(tokenizer, test);
  const encodeSeconds = (Date.now() - t0) / 1000;
  const rows = [];
  for (const [i, img] of test.entries()) {
    const c = codes[i];
    const recon = toU8(tokenizer.decode(c));
    const packed = packImageCodes(c, space, { entropyModel: 'auto', learnedModel });
    // The bench only counts files that decode back to the same codes.
    const back = unpackImageCodes(packed.bytes, space, { learnedModel });
    if (back.codes.codes.some((v, j) => v !== c.codes[j])) throw new Error(`${name}: image ${i} does not round-trip`);
    const pixels = img.width * img.height;
    rows.push({ bytes: packed.bytes.length, payload: packed.stats.payloadBytes, overhead: packed.stats.overheadBytes, bpp: (8 * packed.bytes.length) / pixels, payloadBpp: (8 * packed.stats.payloadBytes) / pixels, kind: packed.stats.entropyModel, ...quality(img, recon) });
  }
  const tensors = codes.map((c) => ({ codes: c.codes, shape: gridShape(c.shape, sizes.length) }));
  const specs = { 'fixed-length': fixedLengthSpec, uniform: uniformSpec, adaptive: adaptiveSpec, 'learned static': fitted.static, 'learned neighbour': fitted.neighbour };
  if (fitted.default !== fitted.neighbour && fitted.default.log2Beta !== undefined) specs[`neighbour + per-image (β=2^${fitted.default.log2Beta})`] = fitted.default;
  if (shipped) specs['shipped entropy.bin'] = shipped;
  const bits = measureCodeBits(tensors, sizes, specs).map((r) => ({ model: r.name, bitsPerCode: r.bitsPerCode, idealBitsPerCode: r.idealBits / r.codes }));
  let priorResult;
  if (opts.prior && opts.priorFor === name) priorResult = await evaluatePrior(opts, space, codes.slice(0, opts.priorImages), test.slice(0, opts.priorImages), rows, learnedModel, specs);
  const kinds = {};
  for (const r of rows) kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
  const result = {
    name,
    dir: path.relative(repoRoot, dir),
    tokenizerId: space.tokenizerId,
    codeShape: gridShape(codes[0].shape, sizes.length),
    codebookSizes: [...sizes],
    learnedModel: shipped ? 'entropy.bin' : `fitted on ${train.length} training images${fitted.default.log2Beta !== undefined ? `, adapts per image (β=2^${fitted.default.log2Beta})` : ''}`,
    bytes: mean(rows.map((r) => r.bytes)),
    payloadBytes: mean(rows.map((r) => r.payload)),
    overheadBytes: mean(rows.map((r) => r.overhead)),
    bpp: mean(rows.map((r) => r.bpp)),
    payloadBpp: mean(rows.map((r) => r.payloadBpp)),
    psnr: mean(rows.map((r) => r.psnr)),
    ssim: mean(rows.map((r) => r.ssim)),
    chosenModels: kinds,
    bits,
    prior: priorResult,
    encodeSeconds,
  };
  tokenizer.dispose();
  return result;
}

const f = (v, d = 2) => (v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(d));
const pad = (s, n) => String(s).padEnd(n);

async function runSet(set, names, opts) {
  const test = set === 'fmnist' ? await fmnist('t10k', opts.fmnistImages) : await kodak(13, 24);
  const train = set === 'fmnist' ? await fmnist('train', opts.fitImages) : await kodak(1, 12);
  const pixels = test[0].width * test[0].height;
  console.log(`\n=== ${set === 'fmnist' ? `Fashion-MNIST test (${test.length} images, 28x28 grey)` : 'Kodak kodim13–24 (12 images, 768x512 RGB)'} ===`);
  // Codec sweeps depend only on the test images and sharp's version: cached across runs.
  // Bump SWEEP_VERSION when encoder settings change.
  const cacheFile = path.join(resultsDir, `compress-codecs-v${SWEEP_VERSION}-${set}-${test.length}-sharp${sharp.versions.sharp}.json`);
  const cache = fs.existsSync(cacheFile) ? JSON.parse(fs.readFileSync(cacheFile, 'utf8')) : {};
  const codecs = {};
  for (const [codec, sweep] of Object.entries(SWEEPS)) {
    if (!opts.codecs.includes(codec)) continue;
    codecs[codec] = [];
    for (const q of sweep.qualities) {
      const key = `${codec}@${q}`;
      cache[key] ??= await codecPoint(test, sweep.encode, q);
      codecs[codec].push(cache[key]);
    }
    fs.writeFileSync(cacheFile, JSON.stringify(cache));
  }
  const vq = [];
  if (opts.codecsOnly) names = [];
  for (const name of names) {
    const dir = findTokenizer(name);
    if (!dir) {
      console.log(`(tokenizer ${name} not found under bench/results/tokenizers[-dev]/; skipped)`);
      continue;
    }
    vq.push(await evaluateTokenizer(name, dir, test, train, opts));
  }

  console.log('\ncodec sweeps (whole files; mean over images):');
  console.log(`${pad('codec', 6)} ${pad('q', 4)} ${pad('bytes', 9)} ${pad('bpp', 7)} ${pad('PSNR', 6)} SSIM`);
  for (const [codec, curve] of Object.entries(codecs)) {
    for (const p of curve) console.log(`${pad(codec, 6)} ${pad(p.quality, 4)} ${pad(f(p.bytes, 1), 9)} ${pad(f(p.bpp, 3), 7)} ${pad(f(p.psnr), 6)} ${f(p.ssim, 4)}`);
  }
  for (const r of vq) {
    console.log(`\nvqkit ${r.name} (${r.dir}, id ${r.tokenizerId}, codes ${r.codeShape.join('x')}, K ${r.codebookSizes.join('/')}, learned model: ${r.learnedModel})`);
    console.log(`  file ${f(r.bytes, 1)} bytes = payload ${f(r.payloadBytes, 1)} + header/CRC ${f(r.overheadBytes, 1)}; bpp ${f(r.bpp, 4)} (payload only ${f(r.payloadBpp, 4)}); PSNR ${f(r.psnr)} dB, SSIM ${f(r.ssim, 4)}`);
    console.log(`  entropy model chosen per file: ${Object.entries(r.chosenModels).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    console.log(`  bits per code (payload, whole bytes per image | ideal):`);
    for (const b of r.bits) console.log(`    ${pad(b.model, 34)} ${f(b.bitsPerCode, 3)} | ${f(b.idealBitsPerCode, 3)}`);
    if (r.prior) {
      const p = r.prior;
      console.log(`  with the prior (first ${p.images} test images): bpp ${f(p.bpp, 4)} vs ${f(p.bppWithoutPrior, 4)} without; prior chosen for ${p.chosen}/${p.images} files; ${f(p.codeAndVerifySecondsPerImage, 2)} s/image to code + decode`);
      for (const b of p.bits) console.log(`    ${pad(b.model, 34)} ${f(b.bitsPerCode, 3)} | ${f(b.idealBitsPerCode, 3)}`);
    }
  }
  const matched = [];
  if (vq.length > 0) {
    console.log('\nat vqkit\'s operating points (PSNR of the codec at the same bpp; bpp the codec needs for the same PSNR):');
    console.log(`${pad('tokenizer', 12)} ${pad('bpp', 7)} ${pad('PSNR', 6)} ${Object.keys(codecs).map((c) => pad(`${c} PSNR@bpp`, 15) + pad(`${c} bpp@PSNR`, 15)).join('')}`);
    for (const r of vq) {
      const row = { tokenizer: r.name, bpp: r.bpp, psnr: r.psnr };
      let line = `${pad(r.name, 12)} ${pad(f(r.bpp, 3), 7)} ${pad(f(r.psnr), 6)} `;
      for (const [codec, curve] of Object.entries(codecs)) {
        const atBpp = interpolate(curve, 'bpp', 'psnr', r.bpp);
        const atPsnr = interpolate(curve, 'psnr', 'bpp', r.psnr);
        const smallest = [...curve].sort((a, b) => a.bpp - b.bpp)[0];
        row[codec] = { psnrAtBpp: atBpp, bppAtPsnr: atPsnr, smallest };
        line += pad(atBpp === undefined ? (r.bpp < smallest.bpp ? `n/a(min ${f(smallest.bpp, 2)})` : 'n/a') : f(atBpp), 15) + pad(atPsnr === undefined ? 'n/a' : f(atPsnr, 3), 15);
      }
      matched.push(row);
      console.log(line);
    }
  }
  const series = Object.entries(codecs).map(([codec, curve]) => {
    const pts = [...curve].sort((a, b) => a.bpp - b.bpp);
    return { name: codec, x: pts.map((p) => p.bpp), y: pts.map((p) => p.psnr) };
  });
  for (const r of vq) {
    series.push({ name: `vqkit ${r.name}`, x: [r.bpp], y: [r.psnr] });
    series.push({ name: `${r.name} payload only`, x: [r.payloadBpp], y: [r.psnr] });
  }
  const maxX = set === 'fmnist' ? 4 : 1.2;
  const clipped = series.map((s) => {
    const keep = s.x.map((x, i) => (x <= maxX ? i : -1)).filter((i) => i >= 0);
    return { ...s, x: keep.map((i) => s.x[i]), y: keep.map((i) => s.y[i]) };
  }).filter((s) => s.x.length > 0);
  const png = path.join(resultsDir, `compress-${set}-rd.png`);
  fs.writeFileSync(png, await lineChart(clipped, { title: `${set === 'fmnist' ? 'Fashion-MNIST test' : 'Kodak 13-24'}: PSNR vs bits per pixel (whole files)`, xLabel: 'bits per pixel', yLabel: 'PSNR (dB)', width: 900, height: 560 }));
  console.log(`\nRD plot: ${path.relative(repoRoot, png)}`);
  return { set, images: test.length, pixelsPerImage: pixels, codecs, vqkit: vq, matched };
}

async function main() {
  const opts = parseOptions();
  const engine = await initEngine({ backend: opts.backend });
  console.log(`backend: ${engine.description}`);
  const names = opts.tokenizers ?? DEFAULT_TOKENIZERS;
  fs.mkdirSync(resultsDir, { recursive: true });
  const sets = [];
  for (const set of opts.sets) {
    const mine = names.filter((n) => n.startsWith(set));
    if (mine.length > 0 || !opts.tokenizers) sets.push(await runSet(set, mine, opts));
  }
  const file = writeResult('compress', { backend: engine.description, options: opts, sets });
  console.log(`results: ${path.relative(repoRoot, file)}`);
}

await main();
