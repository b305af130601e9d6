// Audio tokenizer inference on ONNX Runtime vs TF.js: encode/decode speed in
// seconds of audio per second, and ONNX ↔ TF.js parity on the FSDD test split.
// Used by bench/infer-audio.mjs (`pnpm bench infer-audio`); exported so other
// benchmarks can run the same measurement.
//
// Speed is measured through the AudioTokenizer API as callers use it (samples
// in memory → codes, codes → samples, chunked the same way on both paths):
// one FSDD-length clip (0.5 s) and one 10 s signal (FSDD test clips
// concatenated; the default chunk length, so one chunk plus nothing). The
// contenders of one row run in alternating rounds so a shared machine's load
// hits them alike; wall-clock and per-CPU-second rates are both reported.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AudioOnnxRuntime, AudioTokenizer, exportAudioTokenizerToOnnx, readWavMono, tryParseFsddName } from '../../packages/audio/dist/index.js';

const ROUNDS = 6;

/** Audio seconds per wall-clock second and per process CPU-second of each contender (async fns processing `seconds` of audio per call). */
async function rates(audioSeconds, contenders, budgetSeconds) {
  const entries = Object.entries(contenders);
  for (const [, fn] of entries) await fn(); // warm-up: graph optimisation, allocations
  const acc = Object.fromEntries(entries.map(([k]) => [k, { n: 0, ms: 0, cpuMs: 0 }]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, fn] of entries) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      do {
        await fn();
        acc[k].n += audioSeconds;
      } while (performance.now() - t0 < (budgetSeconds * 1000) / ROUNDS);
      const c = process.cpuUsage(c0);
      acc[k].ms += performance.now() - t0;
      acc[k].cpuMs += (c.user + c.system) / 1000;
    }
  }
  return Object.fromEntries(entries.map(([k]) => [k, { wall: (acc[k].n / acc[k].ms) * 1000, cpu: (acc[k].n / acc[k].cpuMs) * 1000 }]));
}

/**
 * Codes of every clip on both paths (all levels), mismatches checked for
 * ties, and the decoded audio of the TF.js codes compared at all levels and
 * at one level.
 */
async function parity(tf, tfjs, onnx, clips) {
  const model = tfjs.model;
  const rvq = model.quantizer;
  const N = rvq.levelCount;
  const vectors = rvq.layers.map((l) => tf.tidy(() => Float64Array.from(l.codeVectors(tf.range(0, l.codebookSize, 1, 'int32')).dataSync())));
  const vars = new Map(model.namedVariables());
  const projectIn = vars.get('quantizer.projectIn.weight');
  let codes = 0;
  let tiedFrames = 0;
  let differingCodes = 0;
  let maxGap = 0;
  let maxAudioDiff = 0;
  let maxAudioDiffOneLevel = 0;
  let peak = 0;
  for (const samples of clips) {
    const ref = tfjs.encodeSamples(samples);
    const got = await onnx.encodeSamplesAsync(samples);
    codes += ref.codes.length;
    const frames = [];
    for (let f = 0; f < ref.frames; f++) {
      for (let l = 0; l < N; l++) {
        if (ref.codes[f * N + l] !== got.codes[f * N + l]) {
          frames.push({ f, l });
          break;
        }
      }
    }
    for (let i = 0; i < ref.codes.length; i++) if (ref.codes[i] !== got.codes[i]) differingCodes++;
    if (frames.length > 0) {
      tiedFrames += frames.length;
      const padded = new Float32Array(ref.frames * tfjs.hopLength);
      padded.set(samples);
      const z = tf.tidy(() => {
        let lat = tf.squeeze(model.encodeLatents(tf.tensor2d(padded, [1, padded.length])), [0]);
        if (projectIn) lat = tf.add(tf.matMul(lat, projectIn), vars.get('quantizer.projectIn.bias'));
        return lat.arraySync();
      });
      for (const { f, l } of frames) {
        const r = Float64Array.from(z[f]);
        const D = r.length;
        for (let j = 0; j < l; j++) {
          const k = ref.codes[f * N + j];
          for (let d = 0; d < D; d++) r[d] -= vectors[j][k * D + d];
        }
        const dist = (k) => {
          let s = 0;
          for (let d = 0; d < D; d++) s += (r[d] - vectors[l][k * D + d]) ** 2;
          return s;
        };
        const a = dist(ref.codes[f * N + l]);
        const b = dist(got.codes[f * N + l]);
        maxGap = Math.max(maxGap, Math.abs(a - b) / Math.max(a, b, 1e-30));
      }
    }
    const out = await onnx.decodeAsync(ref);
    const expected = tfjs.decode(ref);
    for (let i = 0; i < expected.length; i++) {
      maxAudioDiff = Math.max(maxAudioDiff, Math.abs(out[i] - expected[i]));
      peak = Math.max(peak, Math.abs(expected[i]));
    }
    const one = { ...ref, levels: 1, codes: ref.codes.filter((_, i) => i % N === 0) };
    const outOne = await onnx.decodeAsync(one);
    const expectedOne = tfjs.decode(one);
    for (let i = 0; i < expectedOne.length; i++) maxAudioDiffOneLevel = Math.max(maxAudioDiffOneLevel, Math.abs(outOne[i] - expectedOne[i]));
  }
  return { clips: clips.length, codes, differingCodes, tiedFrames, maxRelativeGap: maxGap, maxAudioDiff, maxAudioDiffOneLevel, decodedPeak: peak };
}

/**
 * Runs the measurement. `tf` is the TF.js module the packages use;
 * options: tokenizerDir, fsddDir, seconds (per measurement), threads, maxClips.
 */
export async function benchAudioInference(tf, { tokenizerDir, fsddDir, seconds = 3, threads, maxClips = Infinity }) {
  const tfjs = await AudioTokenizer.load(tokenizerDir, { runtime: 'tfjs' });
  const id = tfjs.id;
  const exportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-bench-audio-onnx-'));
  exportAudioTokenizerToOnnx(tfjs, exportDir);
  const onnx = await AudioTokenizer.load(tokenizerDir, { runtime: 'onnx', onnxDir: exportDir, onnxThreads: threads });
  const onnxSpin = await AudioTokenizer.load(tokenizerDir, { runtime: 'onnx', onnxDir: exportDir, onnxThreads: threads, onnxSpinning: true });
  const rate = tfjs.sampleRate;
  try {
    const files = fs
      .readdirSync(fsddDir)
      .filter((f) => f.endsWith('.wav') && tryParseFsddName(f)?.split === 'test')
      .sort()
      .slice(0, maxClips);
    const clips = [];
    for (const f of files) clips.push((await readWavMono(path.join(fsddDir, f), rate)).samples);
    const a = tfjs.config.architecture;
    const heads = `${a.encoder ?? 'waveform'} encoder, ${a.decoder ?? 'waveform'} decoder`;
    console.log(`audio tokenizer ${path.basename(tokenizerDir)} (id ${id}, ${heads}, ${rate} Hz, hop ${tfjs.hopLength}, ${tfjs.config.quantizer.levels} levels); ${clips.length} FSDD test clips`);

    // 10 s of speech: test clips end to end.
    const long = new Float32Array(10 * rate);
    for (let at = 0, i = 0; at < long.length; i++) {
      const c = clips[i % clips.length];
      long.set(c.subarray(0, Math.min(c.length, long.length - at)), at);
      at += c.length;
    }
    const signals = [
      { name: 'clip 0.5 s', samples: long.subarray(0, rate / 2) },
      { name: 'speech 10 s', samples: long },
    ];
    const rows = [];
    for (const { name, samples } of signals) {
      const audioSeconds = samples.length / rate;
      const codes = tfjs.encodeSamples(samples);
      const enc = await rates(
        audioSeconds,
        { tfjs: async () => tfjs.encodeSamples(samples), onnx: () => onnx.encodeSamplesAsync(samples), onnxSpin: () => onnxSpin.encodeSamplesAsync(samples) },
        seconds,
      );
      const dec = await rates(audioSeconds, { tfjs: async () => tfjs.decode(codes), onnx: () => onnx.decodeAsync(codes), onnxSpin: () => onnxSpin.decodeAsync(codes) }, seconds);
      const pick = (m) => ({ tfjsEncode: enc.tfjs[m], onnxEncode: enc.onnx[m], onnxSpinEncode: enc.onnxSpin[m], tfjsDecode: dec.tfjs[m], onnxDecode: dec.onnx[m], onnxSpinDecode: dec.onnxSpin[m] });
      rows.push({ signal: name, seconds: audioSeconds, ...pick('wall'), perCpuSecond: pick('cpu') });
    }
    const fmt = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
    const ratio = (a, b) => `${fmt(a)} (${(a / b).toFixed(1)}x)`;
    const table = (title, get) => {
      console.log(`\n${title.padEnd(22)} TF.js enc   ONNX enc (vs TF.js)  ONNX enc spin   TF.js dec   ONNX dec (vs TF.js)  ONNX dec spin`);
      for (const row of rows) {
        const r = get(row);
        console.log(
          `${row.signal.padEnd(20)} ${fmt(r.tfjsEncode).padStart(11)} ${ratio(r.onnxEncode, r.tfjsEncode).padStart(19)} ${ratio(r.onnxSpinEncode, r.tfjsEncode).padStart(15)}` +
            ` ${fmt(r.tfjsDecode).padStart(11)} ${ratio(r.onnxDecode, r.tfjsDecode).padStart(19)} ${ratio(r.onnxSpinDecode, r.tfjsDecode).padStart(15)}`,
        );
      }
    };
    table('audio s per s', (r) => r);
    table('audio s per CPU-second', (r) => r.perCpuSecond);

    const p = await parity(tf, tfjs, onnx, clips);
    console.log(
      `\nparity on ${p.clips} FSDD test clips (${p.codes} codes, all levels): ${p.differingCodes} differing codes in ${p.tiedFrames} frames` +
        (p.tiedFrames ? ` (largest relative distance gap between the two choices at a frame's first difference ${p.maxRelativeGap.toExponential(2)})` : '') +
        `; decoded audio max |Δ| ${p.maxAudioDiff.toExponential(2)} (all levels), ${p.maxAudioDiffOneLevel.toExponential(2)} (1 level); decoded peak ${p.decodedPeak.toFixed(2)}`,
    );
    return { tokenizer: path.relative(process.cwd(), tokenizerDir), tokenizerId: id, architecture: tfjs.config.architecture, rows, parity: p };
  } finally {
    for (const t of [tfjs, onnx, onnxSpin]) t.dispose();
    fs.rmSync(exportDir, { recursive: true, force: true });
  }
}
