import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@vqkit/core';
import { stftPower } from './dsp.js';
import { siSnr } from './metrics.js';
import { Resampler, resample } from './resample.js';
import { fsddDir } from './test-data.js';
import { readWav } from './wav.js';

const RATES = [8000, 16000, 22050, 24000, 44100, 48000];

function sine(freq: number, rate: number, seconds: number, amplitude = 0.5, phase = 0): Float32Array {
  const n = Math.round(rate * seconds);
  return Float32Array.from({ length: n }, (_, i) => amplitude * Math.sin((2 * Math.PI * freq * i) / rate + phase));
}

/** The middle of a signal, away from the zero-padded edges where the filter runs off the data. */
function interior(x: Float32Array, rate: number, margin = 0.05): Float32Array {
  const m = Math.round(rate * margin);
  return x.subarray(m, x.length - m);
}

function rms(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / x.length);
}

/** Frequency from linearly interpolated upward zero crossings. */
function zeroCrossingFrequency(x: Float32Array, rate: number): number {
  const crossings: number[] = [];
  for (let i = 1; i < x.length; i++) {
    if (x[i - 1]! < 0 && x[i]! >= 0) crossings.push(i - 1 + x[i - 1]! / (x[i - 1]! - x[i]!));
  }
  const periods = crossings.length - 1;
  return (periods * rate) / (crossings.at(-1)! - crossings[0]!);
}

const db = (ratio: number): number => 20 * Math.log10(ratio);

describe('Resampler', () => {
  it('returns an equal copy when the rates match', () => {
    const x = sine(440, 16000, 0.1);
    const y = resample(x, 16000, 16000);
    expect(y).not.toBe(x);
    expect(Array.from(y)).toEqual(Array.from(x));
  });

  it('produces round(n · out / in) samples, including for tiny inputs', () => {
    for (const inRate of RATES) {
      for (const outRate of RATES) {
        for (const n of [0, 1, 2, 3, 1001]) {
          const r = new Resampler(inRate, outRate);
          expect(r.process(new Float32Array(n)).length).toBe(Math.round((n * outRate) / inRate));
        }
      }
    }
  });

  it('keeps a sine’s frequency, amplitude and timing for every rate pair', () => {
    for (const inRate of RATES) {
      for (const outRate of RATES) {
        if (inRate === outRate) continue;
        const lowNyquist = Math.min(inRate, outRate) / 2;
        for (const freq of [997, 0.8 * lowNyquist]) {
          const x = sine(freq, inRate, 0.3, 0.5, 0.3);
          const y = resample(x, inRate, outRate);
          const ideal = sine(freq, outRate, y.length / outRate, 0.5, 0.3);
          const yMid = interior(y, outRate);
          const errMid = interior(Float32Array.from(y, (v, i) => v - ideal[i]!), outRate);
          const label = `${inRate}→${outRate} @ ${freq.toFixed(0)} Hz`;
          expect(Math.abs(zeroCrossingFrequency(yMid, outRate) - freq) / freq, label).toBeLessThan(1e-4);
          expect(Math.abs(db(rms(yMid) / (0.5 / Math.SQRT2))), label).toBeLessThan(0.05);
          // Error against the ideal sine sampled at the new rate: frequency, amplitude and delay all right.
          expect(db(rms(errMid) / (0.5 / Math.SQRT2)), label).toBeLessThan(-60);
        }
      }
    }
  });

  it('is flat within 0.5 dB across the passband', () => {
    for (const [inRate, outRate] of [[48000, 8000], [8000, 16000], [44100, 16000]] as const) {
      const lowNyquist = Math.min(inRate, outRate) / 2;
      for (let f = 50; f <= 0.8 * lowNyquist; f += lowNyquist / 20) {
        const y = resample(sine(f, inRate, 0.4), inRate, outRate);
        expect(Math.abs(db(rms(interior(y, outRate, 0.08)) / (0.5 / Math.SQRT2))), `${inRate}→${outRate} @ ${f} Hz`).toBeLessThan(0.5);
      }
    }
  });

  it('attenuates content above the new Nyquist by at least 40 dB (no aliasing)', () => {
    for (const [inRate, outRate] of [[48000, 8000], [16000, 8000], [44100, 8000], [48000, 22050], [44100, 16000]] as const) {
      const nyquist = outRate / 2;
      for (const f of [1.02 * nyquist, 1.3 * nyquist, 2.6 * nyquist, 0.98 * inRate / 2]) {
        const y = resample(sine(f, inRate, 0.3), inRate, outRate);
        expect(db(rms(interior(y, outRate)) / (0.5 / Math.SQRT2)), `${inRate}→${outRate} @ ${f} Hz`).toBeLessThan(-40);
      }
    }
  });

  it('keeps a constant constant and silence silent', () => {
    const y = resample(new Float32Array(4000).fill(0.25), 44100, 16000);
    for (const v of interior(y, 16000, 0.01)) expect(v).toBeCloseTo(0.25, 6);
    expect(resample(new Float32Array(800), 8000, 48000).every((v) => v === 0)).toBe(true);
  });

  it('handles rate pairs too large to tabulate', () => {
    const x = sine(440, 44101, 0.2);
    const y = resample(x, 44101, 16000);
    const ideal = sine(440, 16000, y.length / 16000);
    const err = interior(Float32Array.from(y, (v, i) => v - ideal[i]!), 16000);
    expect(db(rms(err) / (0.5 / Math.SQRT2))).toBeLessThan(-60);
  });

  it('rejects invalid rates and options', () => {
    expect(() => new Resampler(0, 8000)).toThrow(InvalidArgumentError);
    expect(() => new Resampler(8000, 22.05)).toThrow(InvalidArgumentError);
    expect(() => new Resampler(8000, 16000, { rolloff: 1.5 })).toThrow(InvalidArgumentError);
  });
});

describe.skipIf(!existsSync(fsddDir))('on FSDD speech', () => {
  it('8 → 16 → 8 kHz round trips only lose the band above the cutoff', async () => {
    const files = readdirSync(fsddDir).filter((f) => f.endsWith('_0.wav')).sort().slice(0, 12);
    const bandEnergy = (x: Float32Array, fromHz: number, toHz: number): number => {
      const spec = stftPower(x, { nFft: 256 });
      let sum = 0;
      for (let f = 0; f < spec.frames; f++) {
        for (let k = Math.ceil((fromHz * 256) / 8000); k <= Math.floor((toHz * 256) / 8000); k++) sum += spec.data[f * spec.bins + k]!;
      }
      return sum;
    };
    for (const f of files) {
      const x = (await readWav(path.join(fsddDir, f))).channels[0]!;
      const back = resample(resample(x, 8000, 16000), 16000, 8000);
      expect(back.length).toBe(x.length);
      const error = back.map((v, i) => v - x[i]!);
      // Below 0.8 × 4 kHz the round trip is transparent (error ≥ 50 dB down on the signal there) …
      expect(10 * Math.log10(bandEnergy(x, 0, 3200) / bandEnergy(error, 0, 3200)), f).toBeGreaterThan(50);
      // … and overall it is limited by what speech has above 3.6 kHz.
      expect(siSnr(back, x), f).toBeGreaterThan(15);
    }
  });
});
