/**
 * Spectral transforms in plain JavaScript (Float32Array in, Float32Array
 * out): STFT, mel filterbank, log-mel and MFCC. Used by the metrics and as
 * the reference the tfjs versions in dsp-tf.ts are tested against.
 *
 * Conventions (shared with dsp-tf.ts, so both give the same numbers):
 * - Window: periodic Hann of `winLength`, centred inside `nFft` (torch /
 *   librosa default).
 * - Framing: with `center` (default) the signal is padded by ⌊nFft/2⌋ zeros on
 *   both sides, so frame f is centred on sample f·hop and there are
 *   1 + ⌊n/hop⌋ frames. Zero (not reflect) padding: it is defined for any
 *   length, including silence and clips shorter than a window, and has a
 *   trivial gradient. Without `center`, frames start at 0 and a signal
 *   shorter than nFft is zero-padded to one frame.
 * - Layout: spectrograms are row-major `frames × bins`, bins = nFft/2 + 1.
 */
import FFT from 'fft.js';
import { InvalidArgumentError } from '@vqkit/core';

/** STFT framing options. */
export interface StftOptions {
  /** FFT size (any integer ≥ 2; powers of two use a fast FFT). */
  nFft: number;
  /** Samples between frame starts. Default nFft / 4. */
  hopLength?: number;
  /** Hann window length, ≤ nFft. Default nFft. */
  winLength?: number;
  /** Pad ⌊nFft/2⌋ zeros on both sides so frames are centred on multiples of the hop. Default true. */
  center?: boolean;
}

/** STFT options with every default filled in. */
export interface ResolvedStftOptions {
  readonly nFft: number;
  readonly hopLength: number;
  readonly winLength: number;
  readonly center: boolean;
}

/** A real-valued spectrogram-like matrix, row-major `frames × bins`. */
export interface Spectrogram {
  /** Number of frames (rows). */
  readonly frames: number;
  /** Values per frame (columns): frequency bins, mel bands or cepstra. */
  readonly bins: number;
  /** frames × bins values. */
  readonly data: Float32Array;
}

function isPowerOfTwo(n: number): boolean {
  return n >= 4 && (n & (n - 1)) === 0;
}

/** Fills in STFT defaults and validates them. */
export function resolveStftOptions(options: StftOptions): ResolvedStftOptions {
  const { nFft, hopLength = Math.floor(nFft / 4), winLength = nFft, center = true } = options;
  if (!Number.isInteger(nFft) || nFft < 2) throw new InvalidArgumentError(`stft: nFft must be an integer ≥ 2, got ${nFft}`);
  if (!Number.isInteger(hopLength) || hopLength < 1) {
    throw new InvalidArgumentError(`stft: hopLength must be a positive integer, got ${hopLength}`);
  }
  if (!Number.isInteger(winLength) || winLength < 1 || winLength > nFft) {
    throw new InvalidArgumentError(`stft: winLength must be an integer in [1, nFft=${nFft}], got ${winLength}`);
  }
  return { nFft, hopLength, winLength, center };
}

/** Hann window; `periodic` (default) is the DFT-even form used for spectral analysis. */
export function hannWindow(length: number, periodic = true): Float32Array {
  const denom = periodic ? length : length - 1;
  if (length === 1) return Float32Array.of(1);
  return Float32Array.from({ length }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / denom));
}

/** The Hann window of `winLength` zero-padded (centred) to `nFft` samples. */
export function paddedWindow(options: ResolvedStftOptions): Float32Array {
  const window = new Float32Array(options.nFft);
  window.set(hannWindow(options.winLength), Math.floor((options.nFft - options.winLength) / 2));
  return window;
}

/** Number of STFT frames for a signal of n samples. */
export function stftFrameCount(n: number, options: StftOptions): number {
  const { nFft, hopLength, center } = resolveStftOptions(options);
  if (center) return 1 + Math.floor(n / hopLength);
  return n <= nFft ? 1 : 1 + Math.floor((n - nFft) / hopLength);
}

/** Samples of zero padding before the first frame. */
export function stftLeftPad(options: ResolvedStftOptions): number {
  return options.center ? Math.floor(options.nFft / 2) : 0;
}

/** Power spectrogram |X|² (frames × (nFft/2 + 1)). */
export function stftPower(signal: Float32Array, options: StftOptions): Spectrogram {
  const opts = resolveStftOptions(options);
  const { nFft, hopLength } = opts;
  const bins = Math.floor(nFft / 2) + 1;
  const frames = stftFrameCount(signal.length, opts);
  const window = paddedWindow(opts);
  const pad = stftLeftPad(opts);
  const data = new Float32Array(frames * bins);
  const frame = new Float64Array(nFft);
  const fast = isPowerOfTwo(nFft) ? new FFT(nFft) : null;
  const spectrum: number[] = fast === null ? [] : fast.createComplexArray();
  const dft = fast === null ? dftTables(nFft) : null;
  for (let f = 0; f < frames; f++) {
    const start = f * hopLength - pad;
    for (let i = 0; i < nFft; i++) {
      const j = start + i;
      frame[i] = j >= 0 && j < signal.length ? signal[j]! * window[i]! : 0;
    }
    const row = f * bins;
    if (fast !== null) {
      fast.realTransform(spectrum, frame);
      for (let k = 0; k < bins; k++) data[row + k] = spectrum[2 * k]! ** 2 + spectrum[2 * k + 1]! ** 2;
    } else {
      for (let k = 0; k < bins; k++) {
        let re = 0;
        let im = 0;
        for (let i = 0; i < nFft; i++) {
          const idx = (k * i) % nFft;
          re += frame[i]! * dft!.cos[idx]!;
          im -= frame[i]! * dft!.sin[idx]!;
        }
        data[row + k] = re * re + im * im;
      }
    }
  }
  return { frames, bins, data };
}

function dftTables(n: number): { cos: Float64Array; sin: Float64Array } {
  const cos = new Float64Array(n);
  const sin = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    cos[i] = Math.cos((2 * Math.PI * i) / n);
    sin[i] = Math.sin((2 * Math.PI * i) / n);
  }
  return { cos, sin };
}

/** Magnitude spectrogram |X| (frames × (nFft/2 + 1)). */
export function stftMagnitude(signal: Float32Array, options: StftOptions): Spectrogram {
  const power = stftPower(signal, options);
  return { ...power, data: power.data.map(Math.sqrt) };
}

/** Mel scale variant. */
export type MelScale = 'slaney' | 'htk';

/** Mel filterbank options (defaults follow librosa.filters.mel). */
export interface MelOptions {
  /** Sample rate in Hz. */
  sampleRate: number;
  /** FFT size of the spectrogram the filterbank applies to. */
  nFft: number;
  /** Number of mel bands. Default 40. */
  nMels?: number;
  /** Lowest band edge in Hz. Default 0. */
  fMin?: number;
  /** Highest band edge in Hz. Default sampleRate / 2. */
  fMax?: number;
  /**
   * 'slaney' (default; Auditory Toolbox, librosa's default): linear below
   * 1 kHz, logarithmic above. 'htk': 2595·log10(1 + f/700).
   */
  scale?: MelScale;
  /**
   * 'slaney' (default): scale each triangle to unit area (2 / bandwidth in Hz),
   * so wider bands do not dominate. 'none': triangles peak at 1.
   */
  norm?: 'slaney' | 'none';
}

const SLANEY_F_SP = 200 / 3;
const SLANEY_MIN_LOG_HZ = 1000;
const SLANEY_MIN_LOG_MEL = SLANEY_MIN_LOG_HZ / SLANEY_F_SP;
const SLANEY_LOGSTEP = Math.log(6.4) / 27;

/** Hz → mel. */
export function hzToMel(hz: number, scale: MelScale = 'slaney'): number {
  if (scale === 'htk') return 2595 * Math.log10(1 + hz / 700);
  return hz < SLANEY_MIN_LOG_HZ ? hz / SLANEY_F_SP : SLANEY_MIN_LOG_MEL + Math.log(hz / SLANEY_MIN_LOG_HZ) / SLANEY_LOGSTEP;
}

/** mel → Hz. */
export function melToHz(mel: number, scale: MelScale = 'slaney'): number {
  if (scale === 'htk') return 700 * (10 ** (mel / 2595) - 1);
  return mel < SLANEY_MIN_LOG_MEL ? mel * SLANEY_F_SP : SLANEY_MIN_LOG_HZ * Math.exp(SLANEY_LOGSTEP * (mel - SLANEY_MIN_LOG_MEL));
}

/** Mel options with every default filled in. */
export interface ResolvedMelOptions {
  readonly sampleRate: number;
  readonly nFft: number;
  readonly nMels: number;
  readonly fMin: number;
  readonly fMax: number;
  readonly scale: MelScale;
  readonly norm: 'slaney' | 'none';
}

/** Fills in mel defaults and validates them. */
export function resolveMelOptions(options: MelOptions): ResolvedMelOptions {
  const { sampleRate, nFft, nMels = 40, fMin = 0, fMax = sampleRate / 2, scale = 'slaney', norm = 'slaney' } = options;
  if (!(sampleRate > 0)) throw new InvalidArgumentError(`mel: sampleRate must be positive, got ${sampleRate}`);
  if (!Number.isInteger(nMels) || nMels < 1) throw new InvalidArgumentError(`mel: nMels must be a positive integer, got ${nMels}`);
  if (!(fMin >= 0 && fMax > fMin && fMax <= sampleRate / 2)) {
    throw new InvalidArgumentError(`mel: need 0 ≤ fMin < fMax ≤ sampleRate/2, got fMin=${fMin}, fMax=${fMax}`);
  }
  return { sampleRate, nFft, nMels, fMin, fMax, scale, norm };
}

/**
 * Triangular mel filterbank as a row-major nMels × (nFft/2 + 1) matrix
 * (librosa.filters.mel's construction: nMels + 2 edges equally spaced in mel).
 */
export function melFilterbank(options: MelOptions): Spectrogram {
  const { sampleRate, nFft, nMels, fMin, fMax, scale, norm } = resolveMelOptions(options);
  const bins = Math.floor(nFft / 2) + 1;
  const melMin = hzToMel(fMin, scale);
  const melMax = hzToMel(fMax, scale);
  const edges = Float64Array.from({ length: nMels + 2 }, (_, i) => melToHz(melMin + ((melMax - melMin) * i) / (nMels + 1), scale));
  const data = new Float32Array(nMels * bins);
  for (let m = 0; m < nMels; m++) {
    const lo = edges[m]!;
    const mid = edges[m + 1]!;
    const hi = edges[m + 2]!;
    const gain = norm === 'slaney' ? 2 / (hi - lo) : 1;
    for (let k = 0; k < bins; k++) {
      const hz = (k * sampleRate) / nFft;
      const w = Math.max(0, Math.min((hz - lo) / (mid - lo), (hi - hz) / (hi - mid)));
      data[m * bins + k] = w * gain;
    }
  }
  return { frames: nMels, bins, data };
}

/** Multiplies a spectrogram (frames × bins) by a filterbank (bands × bins)ᵀ → frames × bands. */
export function applyFilterbank(spec: Spectrogram, filterbank: Spectrogram): Spectrogram {
  if (spec.bins !== filterbank.bins) {
    throw new InvalidArgumentError(`filterbank has ${filterbank.bins} bins but the spectrogram has ${spec.bins}`);
  }
  const bands = filterbank.frames;
  const out = new Float32Array(spec.frames * bands);
  for (let f = 0; f < spec.frames; f++) {
    for (let m = 0; m < bands; m++) {
      let acc = 0;
      for (let k = 0; k < spec.bins; k++) acc += spec.data[f * spec.bins + k]! * filterbank.data[m * spec.bins + k]!;
      out[f * bands + m] = acc;
    }
  }
  return { frames: spec.frames, bins: bands, data: out };
}

/** Log-mel options: STFT framing plus the filterbank (its nFft comes from the STFT). */
export interface LogMelOptions extends StftOptions, Omit<MelOptions, 'nFft'> {
  /** Use |X| (default, as in HiFi-GAN/EnCodec mel losses) or |X|² ('power'). */
  magnitude?: 'magnitude' | 'power';
  /** Floor applied before the natural log, so silence gives ln(floor) not −∞. Default 1e-5. */
  floor?: number;
}

/** Natural-log mel spectrogram: ln(max(mel, floor)), frames × nMels. */
export function logMelSpectrogram(signal: Float32Array, options: LogMelOptions): Spectrogram {
  const { magnitude = 'magnitude', floor = 1e-5 } = options;
  const spec = magnitude === 'power' ? stftPower(signal, options) : stftMagnitude(signal, options);
  const mel = applyFilterbank(spec, melFilterbank({ ...options, nFft: options.nFft }));
  return { ...mel, data: mel.data.map((v) => Math.log(Math.max(v, floor))) };
}

/**
 * Orthonormal DCT-II along each row, keeping the first `nCoefficients`:
 * c_k = s_k Σ_m x_m cos(π k (m + ½) / M), s_0 = √(1/M), s_k = √(2/M)
 * (scipy.fft.dct(type=2, norm='ortho')).
 */
export function dctII(rows: Spectrogram, nCoefficients = rows.bins): Spectrogram {
  const m = rows.bins;
  if (!Number.isInteger(nCoefficients) || nCoefficients < 1 || nCoefficients > m) {
    throw new InvalidArgumentError(`dct: nCoefficients must be in [1, ${m}], got ${nCoefficients}`);
  }
  const basis = new Float64Array(nCoefficients * m);
  for (let k = 0; k < nCoefficients; k++) {
    const s = k === 0 ? Math.sqrt(1 / m) : Math.sqrt(2 / m);
    for (let i = 0; i < m; i++) basis[k * m + i] = s * Math.cos((Math.PI * k * (i + 0.5)) / m);
  }
  const out = new Float32Array(rows.frames * nCoefficients);
  for (let f = 0; f < rows.frames; f++) {
    for (let k = 0; k < nCoefficients; k++) {
      let acc = 0;
      for (let i = 0; i < m; i++) acc += rows.data[f * m + i]! * basis[k * m + i]!;
      out[f * nCoefficients + k] = acc;
    }
  }
  return { frames: rows.frames, bins: nCoefficients, data: out };
}

/** MFCC options. */
export interface MfccOptions extends LogMelOptions {
  /** Cepstral coefficients kept, c_0 … c_{nMfcc−1}. Default 13. */
  nMfcc?: number;
}

/**
 * Mel-frequency cepstral coefficients: orthonormal DCT-II of the natural-log
 * mel spectrogram (power by default here, the usual MFCC definition).
 */
export function mfcc(signal: Float32Array, options: MfccOptions): Spectrogram {
  const { nMfcc = 13, magnitude = 'power', floor = 1e-10 } = options;
  return dctII(logMelSpectrogram(signal, { ...options, magnitude, floor }), nMfcc);
}
