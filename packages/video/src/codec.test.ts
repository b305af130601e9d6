import { ContainerChecksumError, ContainerError, initEngine, TokenizerMismatchError } from '@vqkit/core';
import { createImageTokenizerConfig, imageCodeSpace, ImageTokenizer } from '@vqkit/image';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeCodeFrames, decodeVideo, encodeVideo, packVideoTokens, readVideoCodes, readVideoContainerInfo, type PackableVideoFrame } from './codec.js';
import { compressVideo } from './compress.js';
import type { VideoFrame } from './source.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

function tinyTokenizer(seed = 3): ImageTokenizer {
  return ImageTokenizer.create(
    createImageTokenizerConfig({
      architecture: { downsampling: 4, hiddenChannels: 8, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 4 },
      preprocessing: { height: 32, width: 32, channels: 3 },
      quantizer: { type: 'vq', codebookSize: 32, kmeansInit: false },
    }),
    { seed },
  );
}

const SIZE = 32;

/** A static gradient background with an 8×8 white square moving `step` pixels right per frame. */
function movingSquare(count: number, step: number): VideoFrame[] {
  return Array.from({ length: count }, (_, index) => {
    const data = new Uint8Array(SIZE * SIZE * 3);
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const inSquare = y >= 12 && y < 20 && x >= index * step && x < index * step + 8;
        for (let c = 0; c < 3; c++) data[(y * SIZE + x) * 3 + c] = inSquare ? 255 : (x * 5 + y * 3 + c * 60) % 200;
      }
    }
    return { index, timestamp: index / 10, width: SIZE, height: SIZE, data };
  });
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('video codec', () => {
  it('round-trips a moving square: codes, frame count, order and pixels', async () => {
    const tok = tinyTokenizer();
    const frames = movingSquare(10, 2);
    const tokens = await collect(encodeVideo(frames, tok, { keyFrameInterval: 6, batchSize: 4 }));
    expect(tokens.map((t) => t.kind)).toEqual(['key', 'delta', 'delta', 'delta', 'delta', 'delta', 'key', 'delta', 'delta', 'delta']);
    // Batched tokenization gives each frame the codes it gets on its own.
    const single = tok.encodeImages([{ data: Float32Array.from(frames[7]!.data, (v) => v / 255), width: SIZE, height: SIZE, channels: 3 }])[0]!;
    expect(Array.from(tokens[7]!.codes)).toEqual(Array.from(single.codes));

    const { bytes, stats } = await compressVideo(frames, tok, { fps: 10, keyFrameInterval: 6, batchSize: 4 });
    expect(stats).toMatchObject({ frames: 10, keyFrames: 2, deltaFrames: 8, repeatFrames: 0, codeShape: [8, 8, 1], tokensPerFrame: 64 });
    // Only the square's neighbourhood changes: most of the background keeps its codes.
    expect(stats.reusedFraction).toBeGreaterThan(0.4);
    expect(stats.reusedFraction).toBeLessThan(1);
    expect(stats.psnr!.worst).toBeLessThanOrEqual(stats.psnr!.mean);

    const decoded = await collect(decodeVideo(bytes, tok, { batchSize: 3 }));
    expect(decoded.map((d) => d.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(decoded.map((d) => d.kind)).toEqual(tokens.map((t) => t.kind));
    for (const [i, d] of decoded.entries()) expect(Array.from(d.codes)).toEqual(Array.from(tokens[i]!.codes));
    const direct = decodeCodeFrames(tok, [tokens[4]!.codes], tokens[4]!.shape, SIZE, SIZE)[0]!;
    expect(decoded[4]!.data).toEqual(direct);
    expect([decoded[4]!.width, decoded[4]!.height]).toEqual([SIZE, SIZE]);
  });

  it('reuse tolerance keeps previous codes that are nearly as good, trading rate for distortion', async () => {
    const tok = tinyTokenizer();
    // A noisy static scene: every frame is the same picture plus fresh pixel noise.
    const clean = movingSquare(1, 0)[0]!;
    let state = 99;
    const noise = (): number => ((state = (state * 1103515245 + 12345) % 2 ** 31), Math.floor((state / 2 ** 31) * 25) - 12);
    const frames = Array.from({ length: 8 }, (_, index) => ({ ...clean, index, data: clean.data.map((v) => Math.min(255, Math.max(0, v + noise()))) }));
    const exact = await collect(encodeVideo(frames, tok, { keyFrameInterval: 100 }));
    const relaxed = await collect(encodeVideo(frames, tok, { keyFrameInterval: 100, reuseTolerance: 0.5 }));
    const all = await collect(encodeVideo(frames, tok, { keyFrameInterval: 100, reuseTolerance: 1e9 }));
    const reused = (t: typeof exact): number => t.slice(1).reduce((n, f) => n + f.reused, 0);
    expect(reused(exact)).toBeLessThan(reused(relaxed));
    expect(reused(relaxed)).toBeLessThanOrEqual(reused(all));
    expect(all.slice(1).every((f) => f.kind === 'repeat')).toBe(true);
    // Key frames are never replenished; every replenished code is the frame's own or the previous one.
    expect(Array.from(relaxed[0]!.codes)).toEqual(Array.from(exact[0]!.codes));
    for (let i = 1; i < relaxed.length; i++) {
      relaxed[i]!.codes.forEach((c, p) => expect(c === exact[i]!.codes[p] || c === relaxed[i - 1]!.codes[p]).toBe(true));
    }
  });

  it('codes static frames after the key frame in almost no bits', async () => {
    const tok = tinyTokenizer();
    const still = movingSquare(1, 0)[0]!;
    const one = await compressVideo([still], tok, { fps: 10, measureQuality: false });
    const frames = Array.from({ length: 40 }, (_, index) => ({ ...still, index, timestamp: index / 10 }));
    const many = await compressVideo(frames, tok, { fps: 10, keyFrameInterval: 100, measureQuality: false });
    expect(many.stats).toMatchObject({ frames: 40, keyFrames: 1, deltaFrames: 0, repeatFrames: 39, reusedFraction: 1 });
    // 39 static frames: one repeat run (descriptor, two dimensions, one payload length).
    expect(many.bytes.length - one.bytes.length).toBeLessThanOrEqual(4);
    const decoded = await collect(decodeVideo(many.bytes, tok));
    expect(decoded).toHaveLength(40);
    expect(decoded[39]!.data).toEqual(decoded[0]!.data);
  });

  it('codes a delta frame with one changed code in a few bytes', () => {
    const K = 64;
    const grid: [number, number, number] = [16, 16, 1];
    let state = 12345;
    const random = (): number => ((state = (state * 1103515245 + 12345) % 2 ** 31), state / 2 ** 31);
    const key = Int32Array.from({ length: 256 }, () => Math.floor(random() * K));
    const frames: PackableVideoFrame[] = [{ kind: 'key', shape: grid, codes: key }];
    let prev = key;
    for (let i = 0; i < 30; i++) {
      const next = prev.slice();
      next[Math.floor(random() * 256)] = Math.floor(random() * K);
      frames.push({ kind: 'delta', shape: grid, codes: next });
      prev = next;
    }
    const space = { tokenizerId: '0123456789abcdef', codebookSizes: [K], downsampling: 4 };
    const bytes = packVideoTokens(frames, space, { width: 64, height: 64, fps: { num: 25, den: 1 }, keyFrameInterval: 100 });
    const info = readVideoContainerInfo(bytes, { space });
    const payloads = info.header.segments.map((s) => s.payloadLength);
    // The key frame costs about log2(64) bits per code; each later frame a few bytes.
    expect(payloads[0]).toBeGreaterThan(150);
    const deltaMean = payloads.slice(1).reduce((a, b) => a + b, 0) / 30;
    expect(deltaMean).toBeLessThan(6);
    const decoded = [...readVideoCodes(bytes, info)];
    expect(decoded.map((d) => Array.from(d.codes))).toEqual(frames.map((f) => Array.from(f.codes)));
  });

  it('round-trips random multi-level codes over several key-frame groups', () => {
    const sizes = [16, 8];
    const grid: [number, number, number] = [5, 7, 2];
    let state = 7;
    const random = (): number => ((state = (state * 1103515245 + 12345) % 2 ** 31), state / 2 ** 31);
    const frames: PackableVideoFrame[] = [];
    let prev = new Int32Array(70);
    for (let i = 0; i < 23; i++) {
      const rate = [0, 0.05, 0.5, 1][i % 4]!;
      const codes = prev.map((c, p) => (i === 0 || random() < rate ? Math.floor(random() * sizes[p % 2]!) : c));
      const kind = i % 9 === 0 ? 'key' : codes.every((c, p) => c === prev[p]) ? 'repeat' : 'delta';
      frames.push({ kind, shape: grid, codes });
      prev = codes;
    }
    const space = { tokenizerId: 'fedcba9876543210', codebookSizes: sizes, downsampling: 2 };
    const bytes = packVideoTokens(frames, space, { width: 13, height: 10, fps: { num: 30000, den: 1001 }, keyFrameInterval: 9 });
    const info = readVideoContainerInfo(bytes, { space });
    expect(info).toMatchObject({ frames: 23, width: 13, height: 10, fps: { num: 30000, den: 1001 }, codeShape: [5, 7, 2] });
    const decoded = [...readVideoCodes(bytes, info)];
    expect(decoded.map((d) => d.kind)).toEqual(frames.map((f) => f.kind));
    // A frame marked 'repeat' must really repeat (its codes would otherwise be lost).
    const mislabelled = frames.map((f, i) => (i === 3 ? { ...f, kind: 'repeat' as const } : f));
    expect(() => packVideoTokens(mislabelled, space, { width: 13, height: 10, fps: { num: 30, den: 1 }, keyFrameInterval: 9 })).toThrow(/marked 'repeat'/);
    expect(decoded.map((d) => Array.from(d.codes))).toEqual(frames.map((f) => Array.from(f.codes)));
  });

  it('rejects corrupt, truncated and foreign containers with typed errors', async () => {
    const tok = tinyTokenizer();
    const { bytes } = await compressVideo(movingSquare(4, 3), tok, { fps: 10, measureQuality: false });
    const flipped = bytes.slice();
    flipped[flipped.length - 8]! ^= 0x10;
    await expect(collect(decodeVideo(flipped, tok))).rejects.toBeInstanceOf(ContainerChecksumError);
    await expect(collect(decodeVideo(bytes.subarray(0, bytes.length - 9), tok))).rejects.toBeInstanceOf(ContainerError);
    await expect(collect(decodeVideo(bytes, tinyTokenizer(4)))).rejects.toBeInstanceOf(TokenizerMismatchError);
    expect(imageCodeSpace(tok).tokenizerId).toBe(readVideoContainerInfo(bytes).header.tokenizerId);
  });
});
