import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { FfmpegNotFoundError, VideoDecodeError } from './errors.js';
import { locateFfmpeg } from './ffmpeg.js';
import { parseFfmpegProbe, openVideo, readVideoFrames, type VideoFrame } from './source.js';
import { frameFileName, writeVideo } from './writer.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-video-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Flat grey frames whose level encodes the frame index (survives lossy coding), with a moving dark square. */
function indexedFrames(count: number, width = 48, height = 32, step = 15): VideoFrame[] {
  return Array.from({ length: count }, (_, index) => {
    const data = new Uint8Array(width * height * 3).fill(20 + index * step);
    for (let y = 4; y < 12; y++) for (let x = index * 2; x < index * 2 + 8; x++) data.fill(0, (y * width + x) * 3, (y * width + x) * 3 + 3);
    return { index, timestamp: index / 10, width, height, data };
  });
}

/** Index of a frame from its grey level. */
function indexOf(frame: VideoFrame, step = 15): number {
  return Math.abs(Math.round((level(frame) - 20) / step));
}

/** Mean of the bottom quarter (away from the square in rows 4..11). */
function level(frame: VideoFrame): number {
  const start = Math.ceil(frame.height * 0.75) * frame.width * 3;
  let sum = 0;
  for (let i = start; i < frame.data.length; i++) sum += frame.data[i]!;
  return sum / (frame.data.length - start);
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('video IO', () => {
  it('finds a working ffmpeg and names its source; a bad explicit path fails clearly', async () => {
    const ffmpeg = await locateFfmpeg();
    expect(['bundled', 'system', 'env']).toContain(ffmpeg.source);
    expect(ffmpeg.version).toMatch(/^ffmpeg version/);
    await expect(locateFfmpeg({ path: path.join(root, 'no-ffmpeg') })).rejects.toBeInstanceOf(FfmpegNotFoundError);
  });

  it('writes an MP4 and reads it back with frame count, order, size and rate policies', async () => {
    const file = path.join(root, 'clip.mp4');
    const written = await writeVideo(indexedFrames(12), file, { fps: 10 });
    expect(written).toMatchObject({ kind: 'mp4', frames: 12 });
    const source = await openVideo(file);
    expect(source.info).toMatchObject({ decoder: 'ffmpeg', codec: 'h264', width: 48, height: 32, fps: { num: 10, den: 1 }, estimatedFrames: 12 });
    const frames = await collect(source.frames());
    expect(frames.map((f) => f.index)).toEqual([...Array(12).keys()]);
    for (const f of frames) expect(Math.abs(level(f) - (20 + f.index * 15))).toBeLessThan(4);

    const resized = await collect(readVideoFrames(file, { size: { width: 16, height: 16 }, resize: 'resize', fps: 5, maxFrames: 4 }));
    expect(resized.map((f) => [f.width, f.height, f.data.length])).toEqual(Array(4).fill([16, 16, 768]));
    // Half the rate keeps every other frame.
    expect(resized.map((f) => indexOf(f))).toEqual([0, 2, 4, 6]);
  });

  it('fails cleanly on truncated, corrupt, missing and non-video input', async () => {
    const file = path.join(root, 'full.mp4');
    await writeVideo(indexedFrames(30, 64, 48), file, { fps: 10, crf: 30 });
    const bytes = fs.readFileSync(file);
    const truncated = path.join(root, 'truncated.mp4');
    fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await expect(collect(readVideoFrames(truncated))).rejects.toBeInstanceOf(VideoDecodeError);
    const corrupt = path.join(root, 'corrupt.mp4');
    const damaged = Buffer.from(bytes);
    for (let i = Math.floor(damaged.length / 2); i < damaged.length - 64; i += 97) damaged[i] = 0xff;
    fs.writeFileSync(corrupt, damaged);
    const garbage = path.join(root, 'garbage.mp4');
    fs.writeFileSync(garbage, Buffer.alloc(4096, 0x5a));
    await expect(collect(readVideoFrames(garbage))).rejects.toBeInstanceOf(VideoDecodeError);
    await expect(openVideo(path.join(root, 'missing.mp4'))).rejects.toThrow(/no such file/);
    await expect(collect(readVideoFrames(corrupt))).rejects.toBeInstanceOf(VideoDecodeError);
  });

  it('reads animated GIF and WebP frames in order through sharp', async () => {
    const frames = indexedFrames(5, 24, 16, 50);
    const stack = Buffer.concat(frames.map((f) => Buffer.from(f.data)));
    const gif = path.join(root, 'anim.gif');
    await sharp(stack, { raw: { width: 24, height: 16 * 5, channels: 3, pageHeight: 16 } }).gif({ delay: 100, loop: 0, dither: 0 }).toFile(gif);
    const source = await openVideo(gif);
    expect(source.info).toMatchObject({ decoder: 'sharp', codec: 'gif', width: 24, height: 16, fps: { num: 10, den: 1 }, estimatedFrames: 5 });
    const read = await collect(source.frames());
    expect(read.map((f) => indexOf(f, 50))).toEqual([0, 1, 2, 3, 4]);
    const slower = await collect(readVideoFrames(gif, { fps: 5, size: 8 }));
    expect(slower.map((f) => [f.width, f.height])).toEqual([[8, 8], [8, 8], [8, 8]]);
    const webp = path.join(root, 'anim.webp');
    await sharp(stack, { raw: { width: 24, height: 16 * 5, channels: 3, pageHeight: 16 } }).webp({ delay: [50, 50, 50, 50, 50], loop: 0, lossless: true }).toFile(webp);
    const animated = await openVideo(webp);
    expect(animated.info).toMatchObject({ decoder: 'sharp', codec: 'webp', fps: { num: 20, den: 1 }, estimatedFrames: 5 });
    expect((await collect(animated.frames())).map((f) => indexOf(f, 50))).toEqual([0, 1, 2, 3, 4]);
  });

  it('writes PNG frames to a directory and WebM through ffmpeg', async () => {
    const dir = path.join(root, 'frames');
    const result = await writeVideo(indexedFrames(3, 10, 6), dir, { fps: 10 });
    expect(result).toMatchObject({ kind: 'frames', frames: 3 });
    expect(fs.readdirSync(dir).sort()).toEqual([0, 1, 2].map(frameFileName));
    const webm = path.join(root, 'odd.webm');
    // Odd sizes are padded to even for 4:2:0 chroma.
    await writeVideo(indexedFrames(4, 21, 11), webm, { fps: 8 });
    const back = await openVideo(webm);
    expect(back.info).toMatchObject({ codec: 'vp9', width: 22, height: 12 });
    expect(await collect(back.frames())).toHaveLength(4);
  });

  it('parses the stream line ffmpeg prints', () => {
    const probe = parseFfmpegProbe(
      '  Duration: 00:00:05.06, start: 0.000000, bitrate: 1785 kb/s\n    Stream #0:0(und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, smpte170m), 960x540 [SAR 1:1 DAR 16:9], 1538 kb/s, 29.97 fps, 29.97 tbr, 30k tbn, 59.94 tbc (default)\n',
    );
    expect(probe).toEqual({ codec: 'h264', width: 960, height: 540, fps: { num: 30000, den: 1001 }, durationSeconds: 5.06 });
    expect(parseFfmpegProbe('Stream #0:0: Audio: aac')).toBeUndefined();
    // A phone video rotated by 90°: frames come out auto-rotated, portrait.
    const rotated = parseFfmpegProbe('    Stream #0:0(und): Video: h264 (avc1 / 0x31637661), yuv420p, 1920x1080, 30 fps, 30 tbr\n    Side data:\n      displaymatrix: rotation of -90.00 degrees\n');
    expect(rotated).toMatchObject({ width: 1080, height: 1920, fps: { num: 30, den: 1 } });
  });
});
