// Inference speed of the FSDD audio tokenizer on ONNX Runtime vs TF.js
// (seconds of audio encoded/decoded per second, for a 0.5 s clip and a 10 s
// signal) and ONNX ↔ TF.js parity on the FSDD test split (codes: differing
// codes, checked to be ties; decoded audio: largest |Δ|). See
// bench/lib/infer-audio.mjs.
//
//   pnpm bench infer-audio [--model DIR | --untrained] [--seconds S] [--threads N] [--max-clips N] [--backend B]
//
// --model      audio tokenizer (default bench/results/tokenizers/fsdd)
// --untrained  an untrained tokenizer of the reference config instead (same
//              speed as a trained one of that architecture; parity is still a
//              check of the graphs, on smaller decoded signals)
// --seconds    time per measurement (default 3)
// --threads    ONNX Runtime intra-op threads (default: ORT's choice)
// --max-clips  FSDD test clips for parity (default all 300)
// --backend    TF.js backend (default auto)
// VQKIT_DATA_DIR overrides the data location (FSDD in audio/fsdd).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { initEngine } from '../packages/core/dist/index.js';
import { AudioTokenizer, createAudioTokenizerConfig } from '../packages/audio/dist/index.js';
import { benchAudioInference } from './lib/infer-audio.mjs';
import { benchDir, benchOptions, dataRoot, isTokenizerDir, repoRoot, writeResult } from './lib/common.mjs';

const opts = benchOptions(import.meta.url, {
  model: { type: 'string', default: path.join(benchDir, 'results/tokenizers/fsdd') },
  untrained: { type: 'boolean', default: false },
  seconds: { type: 'number', default: 3 },
  threads: { type: 'integer' },
  maxClips: { type: 'integer' },
  backend: { type: 'string', default: 'auto' },
});
const tf = createRequire(path.join(repoRoot, 'packages/core/package.json'))('@tensorflow/tfjs');
const engine = await initEngine({ backend: opts.backend });
let tokenizerDir = path.resolve(opts.model);
if (opts.untrained) {
  tokenizerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-bench-audio-untrained-'));
  const untrained = AudioTokenizer.create(createAudioTokenizerConfig());
  untrained.save(tokenizerDir);
  untrained.dispose();
} else if (!isTokenizerDir(tokenizerDir)) {
  throw new Error(`${opts.model} is not an audio tokenizer directory (train one with pnpm bench audio --train-minutes M)`);
}
console.log(`TF.js backend: ${engine.description}; ONNX Runtime intra-op threads: ${opts.threads ?? 'default'}; ${os.cpus().length} CPUs`);
const loadStart = os.loadavg();
const result = await benchAudioInference(tf, {
  tokenizerDir,
  fsddDir: path.join(dataRoot, 'audio', 'fsdd'),
  seconds: opts.seconds,
  threads: opts.threads,
  maxClips: opts.maxClips,
});
const loadEnd = os.loadavg();
console.log(`\nload average (1/5/15 min) at start ${loadStart.map((v) => v.toFixed(2)).join(' ')}, at end ${loadEnd.map((v) => v.toFixed(2)).join(' ')} on ${os.cpus().length} CPUs`);
if (opts.untrained) fs.rmSync(tokenizerDir, { recursive: true, force: true });
const file = writeResult('infer-audio', { untrained: opts.untrained, engine: engine.description, threads: opts.threads ?? null, seconds: opts.seconds, cpu: os.cpus()[0]?.model, loadAverage: { start: loadStart, end: loadEnd }, ...result });
console.log(`wrote ${path.relative(repoRoot, file)}`);
