/**
 * WAV reading and writing.
 *
 * node-wav does the sample conversion, but it trusts its input: it throws a
 * bare TypeError (or returns `undefined`) on non-WAV data, mis-parses files
 * with odd-sized chunks (it ignores RIFF pad bytes), needs the data chunk to
 * be aligned for its typed-array views, and does not know
 * WAVE_FORMAT_EXTENSIBLE. So we walk the RIFF chunks ourselves, validate
 * everything, and hand node-wav a freshly built canonical 44-byte-header
 * buffer.
 *
 * Scaling convention (the one libsndfile, soundfile and torchaudio use):
 * an N-bit PCM integer k maps to k / 2^(N-1), so every code is exactly
 * representable, 0 maps to 0 and the scale is the same on both sides of 0.
 * node-wav instead divides negatives by 2^(N-1) and positives by 2^(N-1)-1
 * (a kink at 0), and on encode truncates instead of rounding, so a plain
 * node-wav decode → encode loses one code on many positive samples. We undo
 * its decode scaling exactly and feed its encoder values that land on the
 * intended integer codes, which makes 16-bit round trips bit-exact.
 */
import { readFile } from 'node:fs/promises';
import { FileFormatError, InvalidArgumentError, writeFileAtomicAsync } from '@vqkit/core';
import * as nodeWav from 'node-wav';
import { resample } from './resample.js';

/** Sample encodings readWav understands. */
export type WavSampleFormat = 'pcm8' | 'pcm16' | 'pcm24' | 'pcm32' | 'float32' | 'float64';

/** Sample encodings writeWav produces. */
export type WavWriteFormat = 'pcm16' | 'float32';

/** Decoded audio: one Float32Array per channel, PCM scaled to [-1, 1). */
export interface WavAudio {
  /** Sample rate in Hz. */
  readonly sampleRate: number;
  /** Samples per channel; all channels have the same length. */
  readonly channels: Float32Array[];
  /** How the samples were stored in the file. */
  readonly format: WavSampleFormat;
  /** Bits per stored sample (8, 16, 24, 32 or 64). */
  readonly bitDepth: number;
}

/** Options for writeWav / encodeWav. */
export interface WavWriteOptions {
  /** Sample rate in Hz (positive integer). */
  sampleRate: number;
  /**
   * Sample encoding. Default `'pcm16'`. PCM rounds x·32768 to the nearest code
   * and clips to [-32768, 32767]; float32 values are clamped to [-1, 1].
   */
  format?: WavWriteFormat;
}

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** Names for format tags people actually meet, so the error says what the file is. */
const KNOWN_UNSUPPORTED_TAGS: Record<number, string> = {
  0x0002: 'Microsoft ADPCM',
  0x0006: 'A-law',
  0x0007: 'µ-law',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0050: 'MPEG',
  0x0055: 'MPEG Layer 3 (MP3)',
  0x00ff: 'AAC',
  0x1610: 'HE-AAC',
};

interface ParsedFmt {
  formatTag: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
}

function fourCC(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(bytes[offset]!, bytes[offset + 1]!, bytes[offset + 2]!, bytes[offset + 3]!);
}

function printable(tag: string): string {
  return JSON.stringify(tag.replace(/[^\x20-\x7e]/g, '?'));
}

function parseFmt(view: DataView, offset: number, size: number, source: string | undefined): ParsedFmt {
  if (size < 16) throw new FileFormatError(`malformed WAV: "fmt " chunk is ${size} bytes, expected at least 16`, source);
  let formatTag = view.getUint16(offset, true);
  const channels = view.getUint16(offset + 2, true);
  const sampleRate = view.getUint32(offset + 4, true);
  const blockAlign = view.getUint16(offset + 12, true);
  const bitsPerSample = view.getUint16(offset + 14, true);
  if (formatTag === WAVE_FORMAT_EXTENSIBLE) {
    // The real format is the first two bytes of the SubFormat GUID at byte 24.
    if (size < 40) {
      throw new FileFormatError(`malformed WAV: WAVE_FORMAT_EXTENSIBLE "fmt " chunk is ${size} bytes, expected 40`, source);
    }
    formatTag = view.getUint16(offset + 24, true);
  }
  return { formatTag, channels, sampleRate, blockAlign, bitsPerSample };
}

function sampleFormatOf(fmt: ParsedFmt, source: string | undefined): WavSampleFormat {
  const { formatTag, bitsPerSample: bits } = fmt;
  if (formatTag === WAVE_FORMAT_PCM) {
    if (bits === 8 || bits === 16 || bits === 24 || bits === 32) return `pcm${bits}`;
    throw new FileFormatError(`unsupported WAV: ${bits}-bit integer PCM (supported: 8, 16, 24, 32 bits)`, source);
  }
  if (formatTag === WAVE_FORMAT_IEEE_FLOAT) {
    if (bits === 32 || bits === 64) return `float${bits}`;
    throw new FileFormatError(`unsupported WAV: ${bits}-bit float samples (supported: 32, 64 bits)`, source);
  }
  const name = KNOWN_UNSUPPORTED_TAGS[formatTag];
  const what = name === undefined ? `format tag 0x${formatTag.toString(16).padStart(4, '0')}` : `${name} (format tag 0x${formatTag.toString(16).padStart(4, '0')})`;
  throw new FileFormatError(`unsupported WAV encoding: ${what}; only uncompressed integer PCM and IEEE float are supported — convert the file first`, source);
}

/** Undoes node-wav's asymmetric integer scaling: returns the stored integer code. */
function nodeWavCode(value: number, bits: number): number {
  const neg = 2 ** (bits - 1);
  const code = value < 0 ? Math.round(value * neg) : Math.round(value * (neg - 1));
  // node-wav's 24-bit sign test (xx > 0x800000) turns -2^23 into +2^23.
  return code >= neg ? code - 2 * neg : code;
}

/**
 * Decodes a WAV file held in memory.
 * @param bytes the whole file.
 * @param source a path or name used in error messages.
 * @throws FileFormatError if the bytes are not a WAV file, are truncated, or use an unsupported encoding.
 */
export function decodeWav(bytes: Uint8Array, source?: string): WavAudio {
  if (bytes.length < 12) {
    throw new FileFormatError(`not a WAV file: only ${bytes.length} bytes, a RIFF/WAVE header needs 12`, source);
  }
  const riff = fourCC(bytes, 0);
  if (riff === 'RIFX' || riff === 'RF64') {
    throw new FileFormatError(`unsupported WAV variant ${riff} (only little-endian RIFF WAV is supported)`, source);
  }
  if (riff !== 'RIFF' || fourCC(bytes, 8) !== 'WAVE') {
    throw new FileFormatError(`not a WAV file: expected "RIFF....WAVE" header, found ${printable(riff)}…${printable(fourCC(bytes, 8))}`, source);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: ParsedFmt | undefined;
  let dataOffset = -1;
  let dataSize = 0;
  let pos = 12;
  while (pos + 8 <= bytes.length) {
    const id = fourCC(bytes, pos);
    const size = view.getUint32(pos + 4, true);
    const body = pos + 8;
    if (id === 'fmt ') {
      if (body + size > bytes.length) throw new FileFormatError('truncated WAV: "fmt " chunk runs past the end of the file', source);
      fmt = parseFmt(view, body, size, source);
    } else if (id === 'data' && dataOffset < 0) {
      if (body + size > bytes.length) {
        throw new FileFormatError(
          `truncated WAV: data chunk declares ${size} bytes but only ${bytes.length - body} are present`,
          source,
        );
      }
      dataOffset = body;
      dataSize = size;
    }
    // RIFF chunks are word-aligned: odd-sized chunks are followed by a pad byte.
    pos = body + size + (size & 1);
  }
  if (fmt === undefined) throw new FileFormatError('malformed WAV: no "fmt " chunk', source);
  if (dataOffset < 0) throw new FileFormatError('malformed or truncated WAV: no data chunk', source);
  const format = sampleFormatOf(fmt, source);
  if (fmt.channels < 1) throw new FileFormatError('malformed WAV: 0 channels', source);
  if (fmt.sampleRate < 1) throw new FileFormatError('malformed WAV: sample rate 0', source);
  const bytesPerFrame = (fmt.channels * fmt.bitsPerSample) / 8;
  if (fmt.blockAlign !== bytesPerFrame) {
    throw new FileFormatError(
      `malformed WAV: block align ${fmt.blockAlign} does not match ${fmt.channels} channel(s) × ${fmt.bitsPerSample} bits`,
      source,
    );
  }
  if (dataSize % bytesPerFrame !== 0) {
    throw new FileFormatError(
      `truncated WAV: data chunk of ${dataSize} bytes is not a whole number of ${bytesPerFrame}-byte frames`,
      source,
    );
  }

  // Canonical, aligned copy for node-wav.
  const isFloat = format === 'float32' || format === 'float64';
  const canonical = new Uint8Array(44 + dataSize);
  const out = new DataView(canonical.buffer);
  canonical.set([0x52, 0x49, 0x46, 0x46], 0); // RIFF
  out.setUint32(4, 36 + dataSize, true);
  canonical.set([0x57, 0x41, 0x56, 0x45, 0x66, 0x6d, 0x74, 0x20], 8); // WAVEfmt␠
  out.setUint32(16, 16, true);
  out.setUint16(20, isFloat ? WAVE_FORMAT_IEEE_FLOAT : WAVE_FORMAT_PCM, true);
  out.setUint16(22, fmt.channels, true);
  out.setUint32(24, fmt.sampleRate, true);
  out.setUint32(28, fmt.sampleRate * bytesPerFrame, true);
  out.setUint16(32, bytesPerFrame, true);
  out.setUint16(34, fmt.bitsPerSample, true);
  canonical.set([0x64, 0x61, 0x74, 0x61], 36); // data
  out.setUint32(40, dataSize, true);
  canonical.set(bytes.subarray(dataOffset, dataOffset + dataSize), 44);

  let decoded: ReturnType<typeof nodeWav.decode>;
  try {
    decoded = nodeWav.decode(canonical);
  } catch (cause) {
    throw new FileFormatError(`could not decode WAV samples: ${(cause as Error).message}`, source, { cause });
  }
  if (decoded === undefined || decoded.channelData.length !== fmt.channels) {
    throw new FileFormatError('could not decode WAV samples', source);
  }
  const channels = decoded.channelData;
  if (format === 'pcm8' || format === 'pcm16' || format === 'pcm24') {
    const bits = fmt.bitsPerSample;
    const scale = 1 / 2 ** (bits - 1);
    for (const ch of channels) {
      for (let i = 0; i < ch.length; i++) ch[i] = nodeWavCode(ch[i]!, bits) * scale;
    }
  }
  // 32-bit integer PCM: float32 cannot hold the codes exactly anyway, and the
  // 2^31 vs 2^31-1 asymmetry is below float32 resolution, so node-wav's output stands.
  return { sampleRate: fmt.sampleRate, channels, format, bitDepth: fmt.bitsPerSample };
}

/**
 * Reads a WAV file.
 * @param source a file path, or the file's bytes.
 * @throws FileFormatError if the file is missing, not a WAV file, truncated, or uses an unsupported encoding.
 */
export async function readWav(source: string | Uint8Array): Promise<WavAudio> {
  if (typeof source !== 'string') return decodeWav(source);
  let bytes: Buffer;
  try {
    bytes = await readFile(source);
  } catch (cause) {
    throw new FileFormatError(`cannot read file: ${(cause as Error).message}`, source, { cause });
  }
  return decodeWav(bytes, source);
}

function asChannelList(samples: Float32Array | readonly Float32Array[]): readonly Float32Array[] {
  const channels = samples instanceof Float32Array ? [samples] : samples;
  if (channels.length < 1) throw new InvalidArgumentError('writeWav: need at least one channel');
  const n = channels[0]!.length;
  for (const ch of channels) {
    if (ch.length !== n) throw new InvalidArgumentError(`writeWav: channels differ in length (${n} vs ${ch.length})`);
    for (let i = 0; i < ch.length; i++) {
      if (!Number.isFinite(ch[i]!)) throw new InvalidArgumentError(`writeWav: sample ${i} is ${ch[i]}; samples must be finite`);
    }
  }
  return channels;
}

/**
 * Encodes samples as a WAV file in memory.
 * @param samples one channel, or one Float32Array per channel (equal lengths).
 */
export function encodeWav(samples: Float32Array | readonly Float32Array[], options: WavWriteOptions): Buffer {
  const { sampleRate, format = 'pcm16' } = options;
  if (!Number.isInteger(sampleRate) || sampleRate < 1) {
    throw new InvalidArgumentError(`writeWav: sampleRate must be a positive integer, got ${sampleRate}`);
  }
  const channels = asChannelList(samples);
  if (format === 'float32') return nodeWav.encode([...channels], { sampleRate, float: true });
  if (format !== 'pcm16') throw new InvalidArgumentError(`writeWav: format must be 'pcm16' or 'float32', got ${String(format)}`);
  // node-wav encodes v < 0 as (v·32768)|0 and v ≥ 0 as (v·32767)|0 (truncating).
  // Give it, per intended code k, a value that lands exactly on k.
  const prepared = channels.map((ch) => {
    const values = new Float64Array(ch.length);
    for (let i = 0; i < ch.length; i++) {
      const code = Math.max(-32768, Math.min(32767, Math.round(ch[i]! * 32768)));
      values[i] = code < 0 ? code / 32768 : (code + 0.5) / 32767;
    }
    return values;
  });
  return nodeWav.encode(prepared, { sampleRate, bitDepth: 16 });
}

/**
 * Writes a WAV file atomically (a crash never leaves a half-written file).
 * @param path destination file.
 * @param samples one channel, or one Float32Array per channel (equal lengths).
 */
export async function writeWav(
  path: string,
  samples: Float32Array | readonly Float32Array[],
  options: WavWriteOptions,
): Promise<void> {
  await writeFileAtomicAsync(path, encodeWav(samples, options));
}

/** Downmixes channels to mono by averaging (a copy, even for one channel). */
export function toMono(channels: readonly Float32Array[]): Float32Array {
  if (channels.length < 1) throw new InvalidArgumentError('toMono: need at least one channel');
  const n = channels[0]!.length;
  const mono = new Float32Array(n);
  if (channels.length === 1) {
    mono.set(channels[0]!);
    return mono;
  }
  const scale = 1 / channels.length;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (const ch of channels) sum += ch[i]!;
    mono[i] = sum * scale;
  }
  return mono;
}

/** A file read as one channel at a chosen rate. */
export interface MonoAudio {
  /** Mono samples at `sampleRate`. */
  readonly samples: Float32Array;
  /** The requested rate (Hz). */
  readonly sampleRate: number;
  /** The file's own rate (Hz). */
  readonly sourceSampleRate: number;
  /** The file's channel count before downmixing. */
  readonly sourceChannels: number;
}

/**
 * Reads a WAV file, downmixes it to mono and resamples it (band-limited) to
 * `sampleRate`. Samples are not clamped: resampling a clipped recording can
 * overshoot ±1 slightly, and whether to clamp is the caller's policy.
 */
export async function readWavMono(source: string | Uint8Array, sampleRate: number): Promise<MonoAudio> {
  const wav = await readWav(source);
  return {
    samples: resample(toMono(wav.channels), wav.sampleRate, sampleRate),
    sampleRate,
    sourceSampleRate: wav.sampleRate,
    sourceChannels: wav.channels.length,
  };
}
