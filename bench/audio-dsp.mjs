// Audio DSP throughput: resampler, STFT/mel losses (forward + gradient), metrics.
// Run: pnpm bench audio-dsp [--seconds 10]   (VQKIT_BACKEND=cpu|vqkit-cpu)
// Numbers are best-of-3 wall-clock times; the machine may be shared, so treat them as noisy.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine } from '../packages/core/dist/index.js';
import { melLoss, multiResolutionStftLoss, reconstructionMetrics, resample } from '../packages/audio/dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tf = createRequire(path.join(here, '../packages/audio/package.json'))('@tensorflow/tfjs');

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] || 10);
// Backend: VQKIT_BACKEND (auto | vqkit-cpu | cpu | tfjs-node), as everywhere else.
const engine = await initEngine();

function best(fn, repeats = 3) {
  let min = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    fn();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}
const noise = (n) => Float32Array.from({ length: n }, () => Math.random() - 0.5);

console.log(`resampler (${seconds} s of audio)`);
for (const [a, b] of [[8000, 16000], [16000, 8000], [44100, 8000], [48000, 16000], [22050, 24000]]) {
  const x = noise(a * seconds);
  const ms = best(() => resample(x, a, b));
  console.log(`  ${a} → ${b} Hz: ${ms.toFixed(0)} ms  (${((seconds * 1000) / ms).toFixed(0)}× real time)`);
}

console.log(`losses on a [8, 8000] batch (8 × 1 s at 8 kHz), backend ${engine.description}`);
const target = tf.randomNormal([8, 8000], 0, 0.1);
const pred = tf.randomNormal([8, 8000], 0, 0.1);
for (const [name, loss] of [
  ['multi-resolution STFT', (p) => multiResolutionStftLoss(p, target)],
  ['mel', (p) => melLoss(p, target, { sampleRate: 8000 })],
]) {
  const fwd = best(() => tf.tidy(() => loss(pred).dataSync()));
  const grad = best(() => tf.tidy(() => tf.grad(loss)(pred).dataSync()));
  console.log(`  ${name}: forward ${fwd.toFixed(0)} ms, gradient ${grad.toFixed(0)} ms`);
}

const ref = noise(8000 * seconds);
const est = ref.map((v) => v + 0.05 * (Math.random() - 0.5));
console.log(`metrics (SI-SNR + LSD + MCD) on ${seconds} s at 8 kHz: ${best(() => reconstructionMetrics(est, ref, 8000)).toFixed(0)} ms`);
