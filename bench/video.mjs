// Video tokenization: decode a clip with ffmpeg, tokenize every frame with an
// RGB image tokenizer at a fixed size, code the frames with the temporal
// container (key / delta / repeat) and measure per clip: frames, tokens/s,
// fraction of codes reused from the previous frame, container bits per
// second (against coding every frame as an independent image container),
// mean and worst per-frame PSNR, and encode / decode frames per second.
//
// Tokenizer: --tokenizer DIR, else bench/results/tokenizers/kodak-f4 or
// kodak-f8 (written by `pnpm bench image --config kodak-f4`), else a kodak-f4
// preset tokenizer is trained here on random 64×64 crops of the 24 Kodak
// photos for --train-minutes (kept in bench/results/tokenizers/video-kodak-f4
// and reused next time).
//
//   pnpm bench video                                   (flower.mp4 at 256x144)
//   pnpm bench video --clip ../shared/data/video/flower.webm --size 128x128 --key-interval 60
//   options: --clip FILE (repeatable), --size WxH, --resize center-crop|resize|pad, --fps N|source,
//            --key-interval N, --max-frames N, --batch N, --tokenizer DIR, --train-minutes N,
//            --reuse-tolerance LIST (comma-separated τ values, one run each; default 0,0.25),
//            --write-recon (also write the reconstruction as MP4 under bench/results/), --backend, --threads
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initEngine } from '../packages/core/dist/index.js';
import { ImageDataset, ImageTokenizer, imageCodeSpace, imagePreset, loadImage, packImageCodes, trainImageTokenizer } from '../packages/image/dist/index.js';
import { compressVideo, decodeVideo, describeFfmpeg, fpsOf, openVideo, writeVideo } from '../packages/video/dist/index.js';
import { benchOptions, dataRoot, isTokenizerDir, repoRoot, resultsDir, writeResult } from './lib/common.mjs';

function parseOptions() {
  const opts = benchOptions(import.meta.url, {
    clip: { type: 'repeated', default: [path.join(dataRoot, 'video/flower.mp4')] },
    size: { type: 'string', default: '256x144' },
    resize: { type: 'string', default: 'center-crop' },
    fps: { type: 'string', default: 'source' },
    keyInterval: { type: 'integer', default: 30 },
    reuseTolerance: { type: 'list', default: ['0', '0.25'] },
    maxFrames: { type: 'integer' },
    batch: { type: 'integer', default: 8 },
    tokenizer: { type: 'string' },
    trainMinutes: { type: 'number', default: 5 },
    writeRecon: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'auto' },
    threads: { type: 'integer' },
  });
  const size = /^(\d+)x(\d+)$/.exec(opts.size);
  if (!size) throw new Error('--size must be WxH');
  const fps = opts.fps === 'source' ? 'source' : Number(opts.fps);
  if (fps !== 'source' && !(fps > 0)) throw new Error('--fps must be a positive number or "source"');
  const tolerances = opts.reuseTolerance.map(Number);
  if (tolerances.some((t) => !(t >= 0))) throw new Error('--reuse-tolerance must list numbers ≥ 0');
  return { ...opts, clips: opts.clip, size: { width: Number(size[1]), height: Number(size[2]) }, fps, tolerances };
}


/** Trains the kodak-f4 preset on random crops of all 24 Kodak photos within a time budget. */
async function trainKodakTokenizer(dir, minutes) {
  const preset = imagePreset('kodak-f4');
  const kodak = path.join(dataRoot, 'images/kodak');
  const names = Array.from({ length: 24 }, (_, i) => `kodim${String(i + 1).padStart(2, '0')}.png`);
  const images = await Promise.all(names.map((n) => loadImage(path.join(kodak, n), { channels: 3 })));
  const dataset = await ImageDataset.load({
    source: { kind: 'arrays', images, names },
    channels: 3,
    validationFraction: 0.125,
    cropSize: preset.data.cropSize,
    cropsPerImage: preset.data.cropsPerImage,
    flipHorizontal: preset.data.flipHorizontal,
    seed: 0,
  });
  const t = preset.training;
  // Plan the cosine schedule for the budget from a short timed run.
  let rate = 0;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-bench-video-'));
  try {
    await trainImageTokenizer({ dataset, outputDir: scratch, config: preset.config, steps: 8, batchSize: t.batchSize, learningRate: t.learningRate, checkpointEvery: 0, maxValidationImages: 1, reportImages: 1, onProgress: (p) => (rate = p.imagesPerSecond) });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const steps = Math.max(10, Math.floor((0.95 * minutes * 60 * rate) / t.batchSize));
  console.error(`video bench: training kodak-f4 on Kodak crops: ${rate.toFixed(1)} img/s → ${steps} steps of ${t.batchSize} in ${minutes} min`);
  let last = 0;
  const result = await trainImageTokenizer({
    dataset,
    outputDir: dir,
    config: preset.config,
    steps,
    batchSize: t.batchSize,
    learningRate: t.learningRate,
    warmupSteps: Math.min(t.warmupSteps, Math.floor(steps / 10)),
    finalLearningRateRatio: t.finalLearningRateRatio,
    timeLimitSeconds: minutes * 60 * 1.1,
    checkpointEvery: 0,
    maxValidationImages: 24,
    onProgress: (p) => {
      if (performance.now() - last > 30_000) {
        last = performance.now();
        console.error(`  step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)} psnr ${p.psnr.toFixed(2)} usage ${(100 * p.usage).toFixed(0)}%`);
      }
    },
  });
  return { trainedHere: true, data: 'random 64x64 crops of Kodak kodim01-24', steps: result.step, minutes, validationPsnr: result.validation?.psnr };
}

async function resolveTokenizer(opts) {
  if (opts.tokenizer) return { dir: opts.tokenizer, provenance: { trainedHere: false } };
  for (const name of ['kodak-f4', 'kodak-f8']) {
    const dir = path.join(resultsDir, 'tokenizers', name);
    if (isTokenizerDir(dir)) return { dir, provenance: { trainedHere: false, from: `pnpm bench image --config ${name}` } };
  }
  const dir = path.join(resultsDir, 'tokenizers', 'video-kodak-f4');
  const provenanceFile = path.join(dir, 'video-bench-training.json');
  if (isTokenizerDir(dir) && fs.existsSync(provenanceFile)) return { dir, provenance: JSON.parse(fs.readFileSync(provenanceFile, 'utf8')) };
  const provenance = await trainKodakTokenizer(dir, opts.trainMinutes);
  fs.writeFileSync(provenanceFile, `${JSON.stringify(provenance, null, 2)}\n`);
  return { dir, provenance };
}

/** Bytes of every frame coded as an independent image container (no temporal coding). */
function intraBytes(tokens, space, width, height, entropyModel) {
  let total = 0;
  for (const t of tokens) {
    const shape = t.shape[2] > 1 ? t.shape : t.shape.slice(0, 2);
    total += packImageCodes({ codes: t.codes, shape, width, height }, space, { entropyModel }).bytes.length;
  }
  return total;
}

async function benchClip(clip, tokenizer, opts, reuseTolerance) {
  const source = await openVideo(clip, { size: opts.size, resize: opts.resize, fps: opts.fps, maxFrames: opts.maxFrames });
  const info = source.info;
  console.error(`video bench: ${path.basename(clip)}: ${info.codec} ${info.sourceWidth}x${info.sourceHeight} → ${info.width}x${info.height} @ ${fpsOf(info.fps).toFixed(3)} fps, ${info.decoder === 'ffmpeg' ? describeFfmpeg(info.ffmpeg) : 'sharp'}`);
  const tokens = [];
  const { bytes, stats } = await compressVideo(source.frames(), tokenizer, {
    fps: info.fps,
    keyFrameInterval: opts.keyInterval,
    batchSize: opts.batch,
    reuseTolerance,
    onFrame: (t) => tokens.push({ shape: t.shape, codes: t.codes }),
  });
  const space = imageCodeSpace(tokenizer);
  const seconds = stats.durationSeconds;
  const intraAdaptive = intraBytes(tokens, space, info.width, info.height, 'adaptive');
  const intraFixed = intraBytes(tokens, space, info.width, info.height, 'fixed-length');

  // Decode: container → frames; the codes must come back exactly.
  const decodeStart = performance.now();
  let decoded = 0;
  let mismatches = 0;
  const reconFrames = [];
  for await (const frame of decodeVideo(bytes, tokenizer, { batchSize: opts.batch })) {
    if (frame.codes.some((c, i) => c !== tokens[frame.index].codes[i])) mismatches++;
    if (opts.writeRecon) reconFrames.push(frame);
    decoded++;
  }
  const decodeSeconds = (performance.now() - decodeStart) / 1000;
  const base = `${path.basename(clip).replace(/\W+/g, '-')}-tau${reuseTolerance}`;
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, `video-${base}.vqt`), bytes);
  let recon;
  if (opts.writeRecon) {
    recon = path.join(resultsDir, `video-${base}-recon.mp4`);
    await writeVideo(reconFrames, recon, { fps: info.fps });
  }
  return {
    clip: path.relative(repoRoot, clip),
    reuseTolerance,
    source: { codec: info.codec, width: info.sourceWidth, height: info.sourceHeight, fps: fpsOf(info.sourceFps), bytes: fs.statSync(clip).size },
    decoder: info.decoder,
    ffmpeg: info.ffmpeg && { source: info.ffmpeg.source, version: info.ffmpeg.version },
    ...stats,
    intraOnly: { adaptiveBitsPerSecond: (8 * intraAdaptive) / seconds, fixedLengthBitsPerSecond: (8 * intraFixed) / seconds },
    decode: { frames: decoded, codeMismatches: mismatches, framesPerSecond: decoded / decodeSeconds },
    recon: recon && path.relative(repoRoot, recon),
  };
}

async function main() {
  const opts = parseOptions();
  const engine = await initEngine({ backend: opts.backend, threads: opts.threads });
  console.error(`video bench: backend ${engine.description}`);
  const { dir, provenance } = await resolveTokenizer(opts);
  const tokenizer = await ImageTokenizer.load(dir);
  // Warm-up (kernel selection, first allocations) so the first clip's rates are not penalised.
  const warm = { data: new Float32Array(opts.size.width * opts.size.height * 3).fill(0.5), width: opts.size.width, height: opts.size.height, channels: 3 };
  tokenizer.decode(tokenizer.encodeImages([warm, warm])[0]);
  const clips = [];
  for (const clip of opts.clips) for (const tau of opts.tolerances) clips.push(await benchClip(clip, tokenizer, opts, tau));
  const record = {
    bench: 'video',
    date: new Date().toISOString(),
    backend: engine.description,
    tokenizer: { dir: path.relative(repoRoot, dir), id: imageCodeSpace(tokenizer).tokenizerId, downsampling: tokenizer.downsampling, codebookSizes: tokenizer.codebookSizes, ...provenance },
    options: { size: opts.size, resize: opts.resize, fps: opts.fps, keyInterval: opts.keyInterval, maxFrames: opts.maxFrames },
    clips,
  };
  tokenizer.dispose();
  const out = writeResult('video', record);

  const kbps = (v) => `${(v / 1000).toFixed(2)} kbit/s`;
  const rows = [
    ['tokenizer', `${record.tokenizer.dir} (f=${tokenizer.downsampling}, K=${tokenizer.codebookSizes.join('/')}${provenance.trainedHere ? `, trained here ${provenance.steps} steps / ${provenance.minutes} min on Kodak crops` : ''})`],
  ];
  for (const c of clips) {
    rows.push(
      ['clip', `${c.clip}, reuse tolerance ${c.reuseTolerance} (${c.source.codec} ${c.source.width}x${c.source.height}, ${c.decoder}${c.ffmpeg ? ` ${c.ffmpeg.source}` : ''})`],
      ['  frames (key/delta/repeat)', `${c.frames} (${c.keyFrames}/${c.deltaFrames}/${c.repeatFrames}) at ${c.width}x${c.height}, ${c.fps.toFixed(2)} fps`],
      ['  codes per frame', `[${c.codeShape.join('x')}] = ${c.tokensPerFrame}`],
      ['  tokens/s', Math.round(c.tokensPerSecond).toString()],
      ['  codes reused from previous frame', `${(100 * c.reusedFraction).toFixed(1)}%`],
      ['  container', `${c.bytes} B = ${kbps(c.bitsPerSecond)} (${c.bitsPerToken.toFixed(3)} bits/token; key ${Math.round(c.keyFrameBytes)} B, delta ${c.deltaFrameBytes.toFixed(1)} B)`],
      ['  every frame as an image container', `${kbps(c.intraOnly.adaptiveBitsPerSecond)} adaptive, ${kbps(c.intraOnly.fixedLengthBitsPerSecond)} fixed-length`],
      ['  PSNR mean / worst', `${c.psnr.mean.toFixed(2)} / ${c.psnr.worst.toFixed(2)} dB (frame ${c.psnr.worstFrame})`],
      ['  encode', `${c.encodeFramesPerSecond.toFixed(2)} frames/s`],
      ['  decode', `${c.decode.framesPerSecond.toFixed(2)} frames/s, ${c.decode.codeMismatches} code mismatches`],
    );
  }
  const width = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  console.log(`results: ${path.relative(process.cwd(), out)}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
