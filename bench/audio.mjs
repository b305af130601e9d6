// Audio tokenizer benchmark on the Free Spoken Digit Dataset (8 kHz speech).
//
// 1. Training (only with --train-minutes): trains — or resumes — the FSDD
//    tokenizer in bench/results/tokenizers/fsdd/ on the training split
//    (takes 5…) for at most that many minutes, then writes the tokenizer and
//    its report. Repeat to continue; the schedule spans --steps in total.
// 2. Evaluation: on the official test split (takes 0–4 of every digit and
//    speaker, 300 clips) reconstructs every clip with vqkit at each of its
//    bitrates and with the reference codecs codec2 (1200/2400/3200 bit/s,
//    Debian `codec2`: c2enc/c2dec) and Opus (6 kbit/s, Debian `opus-tools`),
//    and prints one table of SI-SNR, log-spectral distance and mel-cepstral
//    distortion (mean over clips; metrics from @vqkit/audio), LSD and MCD also
//    over active frames only (reference frames within 30 dB of the clip's
//    loudest: pauses and silence left out).
//
// Codec outputs are aligned to the input before scoring: the lag in ±40 ms
// maximising the cross-correlation is removed (codec2 and Opus have a
// look-ahead delay; vqkit has none, and its best lag is reported as a check).
//
//   pnpm bench audio [--train-minutes 14] [--steps 1500] [--clips N] [--model DIR] [--no-baselines | --only-baselines]
//   (VQKIT_DATA_DIR overrides the data location; VQKIT_BACKEND the backend.)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine } from '../packages/core/dist/index.js';
import {
  AudioDataset,
  AudioTokenizer,
  encodeWav,
  formatBitrate,
  readWav,
  reconstructionMetrics,
  trainAudioTokenizer,
  tryParseFsddName,
} from '../packages/audio/dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const dataDir = process.env.VQKIT_DATA_DIR ?? path.resolve(repoRoot, '../shared/data');
const fsddDir = path.join(dataDir, 'audio', 'fsdd');
const defaultTokenizerDir = path.join(here, 'results', 'tokenizers', 'fsdd');

function parseArgs(argv) {
  const opts = { trainMinutes: 0, steps: 1500, clips: Infinity, baselines: true, vqkit: true, batch: 8, lr: 1e-3, model: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!(v > 0)) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === '--train-minutes') opts.trainMinutes = num();
    else if (a === '--steps') opts.steps = num();
    else if (a === '--clips') opts.clips = num();
    else if (a === '--batch') opts.batch = num();
    else if (a === '--lr') opts.lr = num();
    else if (a === '--no-baselines') opts.baselines = false;
    else if (a === '--only-baselines') opts.vqkit = false;
    else if (a === '--model') opts.model = argv[++i];
    else if (a === '--help' || a === '-h') {
      console.log('options: --train-minutes M --steps S --batch B --lr X --clips N --model DIR --no-baselines --only-baselines');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const tokenizerDir = opts.model ? path.resolve(opts.model) : defaultTokenizerDir;
const engine = await initEngine();
console.log(`backend: ${engine.description}`);
if (!fs.existsSync(fsddDir)) {
  console.error(`FSDD not found in ${fsddDir} (set VQKIT_DATA_DIR)`);
  process.exit(2);
}
const files = fs.readdirSync(fsddDir).filter((f) => f.endsWith('.wav')).sort();
const isTest = (f) => tryParseFsddName(f)?.split === 'test';
const trainFiles = files.filter((f) => !isTest(f)).map((f) => path.join(fsddDir, f));
const testFiles = files.filter(isTest).map((f) => path.join(fsddDir, f));

if (opts.trainMinutes > 0) {
  const train = await AudioDataset.load(trainFiles, { sampleRate: 8000 });
  const test = await AudioDataset.load(testFiles, { sampleRate: 8000 });
  // Validation monitors the test split (no model selection is made from it: the last step is kept).
  console.log(`training on ${train.size} clips (${train.durationSeconds.toFixed(0)} s), ${opts.steps} steps in total, at most ${opts.trainMinutes} min now`);
  let last = 0;
  const result = await trainAudioTokenizer({
    dataset: train,
    validation: test,
    outputDir: tokenizerDir,
    steps: opts.steps,
    batchSize: opts.batch,
    learningRate: opts.lr,
    resume: true,
    checkpointEvery: 100,
    validateEvery: 250,
    timeLimitSeconds: opts.trainMinutes * 60,
    onProgress: (p) => {
      const now = Date.now();
      if (now - last < 15000 && p.step !== p.totalSteps) return;
      last = now;
      console.log(
        `step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(3)} (L1 ${p.l1.toFixed(4)}, STFT ${p.stft.toFixed(3)}, mel ${p.mel.toFixed(3)}) levels ${p.levels} ppl ${p.perplexity.toFixed(1)} lr ${p.learningRate.toExponential(2)} ${p.audioSecondsPerSecond.toFixed(2)}× real time`,
      );
    },
    onValidation: (v) => {
      const b = v.bitrates.map((r) => `${formatBitrate(r.bitrate)}: SI-SNR ${r.siSnrDb.toFixed(2)} LSD ${r.logSpectralDistanceDb.toFixed(2)} MCD ${r.melCepstralDistortionDb.toFixed(2)}`);
      console.log(`validation at step ${v.step} (${v.clips} clips, usage ${(100 * v.usedFraction).toFixed(1)}%, ppl ${v.perplexity.toFixed(1)}): ${b.join(' | ')}`);
    },
  });
  console.log(`trained to step ${result.step}/${result.totalSteps} (resumed from ${result.resumedFrom}${result.stoppedEarly ? ', time limit' : ''}); tokenizer in ${tokenizerDir}`);
  process.exit(0);
}

// ---------------------------------------------------------------- evaluation
if (opts.vqkit && !fs.existsSync(path.join(tokenizerDir, 'model.safetensors'))) {
  console.error(`no trained tokenizer in ${tokenizerDir}; run: pnpm bench audio --train-minutes 14 (repeat until it reaches --steps)`);
  process.exit(2);
}
const tokenizer = opts.vqkit ? await AudioTokenizer.load(tokenizerDir) : undefined;
const clips = [];
for (const file of testFiles.slice(0, Math.min(testFiles.length, opts.clips))) {
  const wav = await readWav(file);
  if (wav.sampleRate !== 8000 || wav.channels.length !== 1) throw new Error(`${file}: expected 8 kHz mono`);
  clips.push({ file, samples: wav.channels[0] });
}
const totalSeconds = clips.reduce((s, c) => s + c.samples.length, 0) / 8000;
console.log(`test split: ${clips.length} clips, ${totalSeconds.toFixed(1)} s`);

const MAX_LAG = 320; // 40 ms at 8 kHz
/** Shifts `estimate` by the lag (|lag| ≤ MAX_LAG) maximising its correlation with `reference`; same length as the reference. */
function align(estimate, reference) {
  let bestLag = 0;
  let best = -Infinity;
  for (let lag = -MAX_LAG; lag <= MAX_LAG; lag++) {
    let dot = 0;
    for (let t = 0; t < reference.length; t++) {
      const u = t + lag;
      if (u >= 0 && u < estimate.length) dot += estimate[u] * reference[t];
    }
    if (dot > best) {
      best = dot;
      bestLag = lag;
    }
  }
  const out = new Float32Array(reference.length);
  for (let t = 0; t < reference.length; t++) {
    const u = t + bestLag;
    if (u >= 0 && u < estimate.length) out[t] = estimate[u];
  }
  return { aligned: out, lag: bestLag };
}

const ACTIVE_FRAMES_DB = 30;

function score(name, bitrate, outputs, { alignOutputs }) {
  let si = 0, siN = 0, lsd = 0, mcd = 0, lsdActive = 0, mcdActive = 0, lagSum = 0;
  outputs.forEach((out, i) => {
    const ref = clips[i].samples;
    let est = out;
    if (alignOutputs) {
      const a = align(out, ref);
      est = a.aligned;
      lagSum += Math.abs(a.lag);
    } else if (est.length !== ref.length) {
      throw new Error(`${name}: output length ${est.length} ≠ ${ref.length}`);
    }
    const m = reconstructionMetrics(est, ref, 8000);
    if (Number.isFinite(m.siSnrDb)) {
      si += m.siSnrDb;
      siN++;
    }
    lsd += m.logSpectralDistanceDb;
    mcd += m.melCepstralDistortionDb;
    const active = reconstructionMetrics(est, ref, 8000, { activeFramesDb: ACTIVE_FRAMES_DB });
    lsdActive += active.logSpectralDistanceDb;
    mcdActive += active.melCepstralDistortionDb;
  });
  return {
    codec: name,
    bitrate,
    siSnrDb: si / siN,
    logSpectralDistanceDb: lsd / outputs.length,
    melCepstralDistortionDb: mcd / outputs.length,
    activeLogSpectralDistanceDb: lsdActive / outputs.length,
    activeMelCepstralDistortionDb: mcdActive / outputs.length,
    meanAbsLagSamples: alignOutputs ? lagSum / outputs.length : 0,
  };
}

const rows = [];
// vqkit at every bitrate; outputs scored as decoded (no alignment) — and the lag check on the top rate.
const levelsCount = tokenizer?.config.quantizer.levels ?? 0;
let encodeMs = 0, decodeMs = 0;
for (let levels = 1; levels <= levelsCount; levels++) {
  const outputs = [];
  for (const clip of clips) {
    const t0 = performance.now();
    const encoded = tokenizer.encodeSamples(clip.samples, { levels });
    const t1 = performance.now();
    outputs.push(tokenizer.decode(encoded));
    const t2 = performance.now();
    if (levels === levelsCount) {
      encodeMs += t1 - t0;
      decodeMs += t2 - t1;
    }
  }
  rows.push(score(`vqkit ${levels}×${Math.log2(tokenizer.config.quantizer.codebookSize)} bit`, tokenizer.bitrate(levels), outputs, { alignOutputs: false }));
  if (levels === levelsCount) {
    const check = score('vqkit (aligned check)', tokenizer.bitrate(levels), outputs, { alignOutputs: true });
    console.log(`vqkit top rate: mean |best lag| ${check.meanAbsLagSamples.toFixed(2)} samples (0 = no delay)`);
  }
}
if (tokenizer) console.log(`vqkit speed at ${formatBitrate(tokenizer.bitrate())}: encode ${(totalSeconds / (encodeMs / 1000)).toFixed(1)}× real time, decode ${(totalSeconds / (decodeMs / 1000)).toFixed(1)}× real time`);

function haveTool(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}
function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
}

if (opts.baselines) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-audio-bench-'));
  try {
    if (haveTool('c2enc') && haveTool('c2dec')) {
      for (const mode of [1200, 2400, 3200]) {
        const outputs = [];
        for (const clip of clips) {
          const raw = path.join(tmp, 'in.raw');
          const pcm = Buffer.alloc(clip.samples.length * 2);
          clip.samples.forEach((v, i) => pcm.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32768))), i * 2));
          fs.writeFileSync(raw, pcm);
          run('c2enc', [String(mode), raw, path.join(tmp, 'c.bit')]);
          run('c2dec', [String(mode), path.join(tmp, 'c.bit'), path.join(tmp, 'out.raw')]);
          const bytes = fs.readFileSync(path.join(tmp, 'out.raw'));
          const out = new Float32Array(bytes.length / 2);
          for (let i = 0; i < out.length; i++) out[i] = bytes.readInt16LE(i * 2) / 32768;
          outputs.push(out);
        }
        rows.push(score(`codec2 ${mode}`, mode, outputs, { alignOutputs: true }));
      }
    } else console.log('codec2 not installed (apt-get install codec2): skipped');
    if (haveTool('opusenc') && haveTool('opusdec')) {
      const outputs = [];
      for (const clip of clips) {
        fs.writeFileSync(path.join(tmp, 'in.wav'), encodeWav(clip.samples, { sampleRate: 8000, format: 'pcm16' }));
        run('opusenc', ['--quiet', '--bitrate', '6', '--hard-cbr', path.join(tmp, 'in.wav'), path.join(tmp, 'o.opus')]);
        run('opusdec', ['--quiet', '--rate', '8000', path.join(tmp, 'o.opus'), path.join(tmp, 'out.wav')]);
        outputs.push((await readWav(path.join(tmp, 'out.wav'))).channels[0]);
      }
      rows.push(score('opus 6k (CBR)', 6000, outputs, { alignOutputs: true }));
    } else console.log('opus-tools not installed (apt-get install opus-tools): skipped');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

console.log('');
console.log(`FSDD test split (${clips.length} clips, 8 kHz). SI-SNR higher is better; LSD and MCD lower is better ('act': active frames only, within ${ACTIVE_FRAMES_DB} dB of each clip's loudest).`);
const header = ['codec', 'bit/s', 'SI-SNR dB', 'LSD dB', 'MCD dB', 'LSD act', 'MCD act'];
const table = rows
  .sort((a, b) => a.bitrate - b.bitrate)
  .map((r) => [
    r.codec,
    String(r.bitrate),
    r.siSnrDb.toFixed(2),
    r.logSpectralDistanceDb.toFixed(2),
    r.melCepstralDistortionDb.toFixed(2),
    r.activeLogSpectralDistanceDb.toFixed(2),
    r.activeMelCepstralDistortionDb.toFixed(2),
  ]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(line(header));
for (const r of table) console.log(line(r));

const codec2 = rows.find((r) => r.codec === 'codec2 2400');
const ours = rows.filter((r) => r.codec.startsWith('vqkit') && r.bitrate <= 2400).sort((a, b) => b.bitrate - a.bitrate)[0];
if (codec2 && ours) {
  const ok = ours.logSpectralDistanceDb < codec2.logSpectralDistanceDb && ours.melCepstralDistortionDb < codec2.melCepstralDistortionDb;
  const okActive = ours.activeLogSpectralDistanceDb < codec2.activeLogSpectralDistanceDb && ours.activeMelCepstralDistortionDb < codec2.activeMelCepstralDistortionDb;
  console.log(
    `\ntarget (≤ 2.4 kbit/s beats codec2 2400 on LSD and MCD): vqkit ${ours.bitrate} bit/s LSD ${ours.logSpectralDistanceDb.toFixed(2)} / MCD ${ours.melCepstralDistortionDb.toFixed(2)} vs codec2 ${codec2.logSpectralDistanceDb.toFixed(2)} / ${codec2.melCepstralDistortionDb.toFixed(2)} → ${ok ? 'MET' : 'NOT MET'}` +
      ` (active frames: ${ours.activeLogSpectralDistanceDb.toFixed(2)} / ${ours.activeMelCepstralDistortionDb.toFixed(2)} vs ${codec2.activeLogSpectralDistanceDb.toFixed(2)} / ${codec2.activeMelCepstralDistortionDb.toFixed(2)} → ${okActive ? 'met' : 'not met'})`,
  );
}
const resultsDir = path.join(here, 'results');
fs.mkdirSync(resultsDir, { recursive: true });
const out = path.join(resultsDir, `audio-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(out, `${JSON.stringify({ backend: engine.description, tokenizer: tokenizer?.id, tokenizerDir: tokenizer ? tokenizerDir : undefined, clips: clips.length, rows }, null, 2)}\n`);
console.log(`results: ${out}`);
