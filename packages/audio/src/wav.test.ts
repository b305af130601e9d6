import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileFormatError } from '@vqkit/core';
import { describe, expect, it } from 'vitest';
import { decodeWav, encodeWav, readWav, readWavMono, toMono, writeWav } from './wav.js';
import { fsddDir } from './test-data.js';

interface RawWavSpec {
  formatTag?: number;
  channels?: number;
  sampleRate?: number;
  bits?: number;
  data: Uint8Array;
  /** Chunks inserted between "fmt " and "data". */
  before?: { id: string; body: Uint8Array }[];
  extensibleSubFormat?: number;
}

function chunk(id: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length + (body.length & 1));
  out.set([...id].map((c) => c.charCodeAt(0)), 0);
  new DataView(out.buffer).setUint32(4, body.length, true);
  out.set(body, 8);
  return out;
}

/** Builds a WAV file byte by byte, independently of the code under test. */
function rawWav(spec: RawWavSpec): Uint8Array {
  const { channels = 1, sampleRate = 8000, bits = 16, formatTag = 1 } = spec;
  const extensible = spec.extensibleSubFormat !== undefined;
  const fmt = new Uint8Array(extensible ? 40 : 16);
  const v = new DataView(fmt.buffer);
  v.setUint16(0, extensible ? 0xfffe : formatTag, true);
  v.setUint16(2, channels, true);
  v.setUint32(4, sampleRate, true);
  v.setUint32(8, (sampleRate * channels * bits) / 8, true);
  v.setUint16(12, (channels * bits) / 8, true);
  v.setUint16(14, bits, true);
  if (extensible) {
    v.setUint16(16, 22, true);
    v.setUint16(18, bits, true);
    v.setUint16(24, spec.extensibleSubFormat!, true);
  }
  const parts = [chunk('fmt ', fmt), ...(spec.before ?? []).map((c) => chunk(c.id, c.body)), chunk('data', spec.data)];
  const total = parts.reduce((s, p) => s + p.length, 4);
  const out = new Uint8Array(8 + total);
  out.set([0x52, 0x49, 0x46, 0x46], 0);
  new DataView(out.buffer).setUint32(4, total, true);
  out.set([0x57, 0x41, 0x56, 0x45], 8);
  let pos = 12;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function int16Bytes(codes: number[]): Uint8Array {
  return new Uint8Array(Int16Array.from(codes).buffer);
}

function dataChunkOf(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 12;
  while (pos + 8 <= bytes.length) {
    const id = String.fromCharCode(...bytes.subarray(pos, pos + 4));
    const size = view.getUint32(pos + 4, true);
    if (id === 'data') return bytes.subarray(pos + 8, pos + 8 + size);
    pos += 8 + size + (size & 1);
  }
  throw new Error('no data chunk');
}

describe('16-bit PCM', () => {
  const codes = [-32768, -32767, -12345, -1, 0, 1, 2, 1000, 12345, 32766, 32767];
  for (let i = 0; i < 2000; i++) codes.push(((i * 7919) % 65536) - 32768);

  it('decodes codes symmetrically as k / 32768', () => {
    const wav = decodeWav(rawWav({ data: int16Bytes(codes) }));
    expect(wav.format).toBe('pcm16');
    expect(wav.bitDepth).toBe(16);
    expect(Array.from(wav.channels[0]!, (x) => x * 32768)).toEqual(codes);
  });

  it('round-trips bit-exactly (decode → encode gives identical bytes)', () => {
    const original = int16Bytes(codes);
    const wav = decodeWav(rawWav({ data: original, sampleRate: 16000 }));
    const again = encodeWav(wav.channels, { sampleRate: wav.sampleRate, format: 'pcm16' });
    expect(Buffer.from(dataChunkOf(again)).equals(Buffer.from(original))).toBe(true);
    expect(decodeWav(again).sampleRate).toBe(16000);
  });

  it.skipIf(!existsSync(fsddDir))('round-trips a real FSDD recording bit-exactly through a file', async () => {
    const name = readdirSync(fsddDir).find((f) => f.endsWith('.wav'))!;
    const file = path.join(fsddDir, name);
    const wav = await readWav(file);
    expect(wav.sampleRate).toBe(8000);
    expect(wav.channels).toHaveLength(1);
    const dir = mkdtempSync(path.join(tmpdir(), 'vqkit-wav-'));
    try {
      const out = path.join(dir, 'copy.wav');
      await writeWav(out, wav.channels, { sampleRate: wav.sampleRate });
      const a = dataChunkOf(readFileSync(file));
      const b = dataChunkOf(readFileSync(out));
      expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rounds to the nearest code and clips out-of-range samples', () => {
    const x = Float32Array.from([0.49 / 32768, 0.51 / 32768, -1.7, 1.3, 1, -1, 0.5]);
    const back = decodeWav(encodeWav(x, { sampleRate: 8000 })).channels[0]!;
    expect(Array.from(back, (v) => v * 32768)).toEqual([0, 1, -32768, 32767, 32767, -32768, 16384]);
  });
});

describe('other sample formats', () => {
  it('reads stereo and downmixes by averaging', () => {
    const interleaved = int16Bytes([1000, -1000, 2000, 0, -32768, -32768]);
    const wav = decodeWav(rawWav({ data: interleaved, channels: 2 }));
    expect(wav.channels).toHaveLength(2);
    expect(Array.from(wav.channels[1]!, (x) => x * 32768)).toEqual([-1000, 0, -32768]);
    expect(Array.from(toMono(wav.channels), (x) => x * 32768)).toEqual([0, 1000, -32768]);
  });

  it('reads 24-bit PCM including the most negative code', () => {
    const codes = [-8388608, -1, 0, 1, 8388607, 4194304];
    const data = new Uint8Array(codes.length * 3);
    codes.forEach((c, i) => {
      const u = c < 0 ? c + 0x1000000 : c;
      data.set([u & 0xff, (u >> 8) & 0xff, (u >> 16) & 0xff], i * 3);
    });
    const wav = decodeWav(rawWav({ data, bits: 24, sampleRate: 48000 }));
    expect(wav.format).toBe('pcm24');
    expect(Array.from(wav.channels[0]!, (x) => x * 8388608)).toEqual(codes);
  });

  it('reads unsigned 8-bit PCM', () => {
    const wav = decodeWav(rawWav({ data: Uint8Array.from([0, 128, 255, 64]), bits: 8 }));
    expect(Array.from(wav.channels[0]!, (x) => x * 128)).toEqual([-128, 0, 127, -64]);
  });

  it('round-trips float32 samples exactly', () => {
    const x = Float32Array.from([0, 0.1, -0.333, 1, -1, 1e-6]);
    const wav = decodeWav(encodeWav([x, x], { sampleRate: 44100, format: 'float32' }));
    expect(wav.format).toBe('float32');
    expect(wav.sampleRate).toBe(44100);
    expect(Array.from(wav.channels[1]!)).toEqual(Array.from(x));
  });

  it('reads WAVE_FORMAT_EXTENSIBLE and skips odd-sized chunks with their pad byte', () => {
    const wav = decodeWav(
      rawWav({
        data: int16Bytes([5, -7, 9]),
        extensibleSubFormat: 1,
        before: [{ id: 'LIST', body: Uint8Array.from([1, 2, 3]) }],
      }),
    );
    expect(Array.from(wav.channels[0]!, (x) => x * 32768)).toEqual([5, -7, 9]);
  });

  it('decodes an empty data chunk as zero-length channels', () => {
    const wav = decodeWav(rawWav({ data: new Uint8Array(0), channels: 2 }));
    expect(wav.channels.map((c) => c.length)).toEqual([0, 0]);
  });

  it('reads from an unaligned view into a larger buffer', () => {
    const file = rawWav({ data: int16Bytes([3, -4]), before: [{ id: 'junk', body: new Uint8Array(1) }] });
    const big = new Uint8Array(file.length + 1);
    big.set(file, 1);
    expect(Array.from(decodeWav(big.subarray(1)).channels[0]!, (x) => x * 32768)).toEqual([3, -4]);
  });
});

describe('errors', () => {
  function errorOf(fn: () => unknown): FileFormatError {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(FileFormatError);
      return e as FileFormatError;
    }
    throw new Error('expected a FileFormatError');
  }

  it('rejects non-WAV input with the path and reason', () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48]);
    const e = errorOf(() => decodeWav(png, 'photo.wav'));
    expect(e.message).toMatch(/^photo\.wav: not a WAV file/);
    expect(e.path).toBe('photo.wav');
    expect(errorOf(() => decodeWav(new Uint8Array(3))).message).toMatch(/only 3 bytes/);
  });

  it('rejects truncated files', () => {
    const full = rawWav({ data: int16Bytes(Array.from({ length: 100 }, (_, i) => i)) });
    expect(errorOf(() => decodeWav(full.subarray(0, full.length - 10), 'cut.wav')).message).toMatch(
      /cut\.wav: truncated WAV: data chunk declares 200 bytes but only 190/,
    );
    expect(errorOf(() => decodeWav(full.subarray(0, 30))).message).toMatch(/truncated/);
    expect(errorOf(() => decodeWav(full.subarray(0, 12))).message).toMatch(/no "fmt " chunk/);
  });

  it('rejects compressed and unusual encodings by name', () => {
    expect(errorOf(() => decodeWav(rawWav({ data: new Uint8Array(4), formatTag: 7, bits: 8 }))).message).toMatch(/µ-law/);
    expect(errorOf(() => decodeWav(rawWav({ data: new Uint8Array(4), formatTag: 0x55 }))).message).toMatch(/MP3/);
    expect(errorOf(() => decodeWav(rawWav({ data: new Uint8Array(4), bits: 12 }))).message).toMatch(/12-bit/);
    expect(errorOf(() => decodeWav(rawWav({ data: new Uint8Array(4), formatTag: 3, bits: 16 }))).message).toMatch(/16-bit float/);
  });

  it('reports missing files as FileFormatError with the path', async () => {
    await expect(readWav('/nonexistent/x.wav')).rejects.toThrow(FileFormatError);
    await expect(readWav('/nonexistent/x.wav')).rejects.toThrow(/\/nonexistent\/x\.wav/);
  });
});

describe('readWavMono', () => {
  it('downmixes and resamples to the requested rate', async () => {
    const n = 4410;
    const left = Float32Array.from({ length: n }, (_, i) => 0.4 * Math.sin((2 * Math.PI * 500 * i) / 44100));
    const right = left.map((v) => -v * 0.5);
    const audio = await readWavMono(encodeWav([left, right], { sampleRate: 44100, format: 'float32' }), 8000);
    expect(audio.sourceSampleRate).toBe(44100);
    expect(audio.sourceChannels).toBe(2);
    expect(audio.samples.length).toBe(800);
    // Mono = 0.25 · sine; check an interior sample against the analytic value.
    expect(audio.samples[401]!).toBeCloseTo(0.1 * Math.sin((2 * Math.PI * 500 * 401) / 8000), 3);
    expect(Math.abs(audio.samples[401]!)).toBeGreaterThan(0.03);
  });
});
