import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeWav, readWav } from '@vqkit/audio';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../packages/cli/src/main.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-cli-audio-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const tiny = ['--strides', '4,4', '--channels', '4', '--max-channels', '8', '--latent-dim', '8', '--levels', '3', '--codebook-size', '16'];

function tone(seconds: number, rate: number, f: number): Float32Array {
  return Float32Array.from({ length: Math.round(seconds * rate) }, (_, t) => 0.3 * Math.sin((2 * Math.PI * f * t) / rate));
}

describe('vqkit train/encode/decode audio', () => {
  it('trains on a WAV folder, encodes at a bitrate to .vqt and JSON, and decodes both to the same WAV', async () => {
    const data = path.join(root, 'data');
    fs.mkdirSync(data);
    for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(data, `t${i}.wav`), encodeWav(tone(0.3, 8000, 200 + 150 * i), { sampleRate: 8000 }));
    fs.writeFileSync(path.join(data, 'broken.wav'), 'not audio');
    const model = path.join(root, 'tok');
    const train = ['--backend', 'cpu', 'train', 'audio', '--data', data, '-o', model, ...tiny, '--steps', '2', '--batch-size', '2', '--segment-seconds', '0.05'];
    expect(await main(train)).toBe(0);
    expect(fs.existsSync(path.join(model, 'report', 'spectrograms.png'))).toBe(true);

    // A 16 kHz stereo input: downmixed and resampled to the model's 8 kHz; hop 16 → 500 frames/s × 4 bits.
    const input = path.join(root, 'in.wav');
    fs.writeFileSync(input, encodeWav([tone(0.25, 16000, 300), tone(0.25, 16000, 500)], { sampleRate: 16000 }));
    const vqt = path.join(root, 'in.vqt');
    const json = path.join(root, 'in.json');
    expect(await main(['--backend', 'cpu', 'encode', 'audio', input, '-m', model, '--bitrate', '4.5k', '-o', vqt])).toBe(0);
    expect(await main(['--backend', 'cpu', 'encode', 'audio', input, '-m', model, '--levels', '2', '-o', json])).toBe(0);
    expect(JSON.parse(fs.readFileSync(json, 'utf8'))).toMatchObject({ modality: 'audio', levels: 2, frames: 125, length: 2000, bitrate: 4000 });
    const fromVqt = path.join(root, 'from-vqt.wav');
    const fromJson = path.join(root, 'from-json.wav');
    expect(await main(['--backend', 'cpu', 'decode', vqt, '-m', model, '-o', fromVqt])).toBe(0);
    expect(await main(['--backend', 'cpu', 'decode', json, '-m', model, '-o', fromJson])).toBe(0);
    const a = await readWav(fromVqt);
    const b = await readWav(fromJson);
    expect([a.sampleRate, a.channels.length, a.channels[0]!.length]).toEqual([8000, 1, 2000]);
    expect(Array.from(b.channels[0]!)).toEqual(Array.from(a.channels[0]!));

    // Bad requests fail with a message, not a crash.
    expect(await main(['--backend', 'cpu', 'encode', 'audio', input, '-m', model, '--bitrate', '1k', '-o', vqt])).toBe(2);
    expect(await main(['--backend', 'cpu', 'encode', 'audio', path.join(data, 'broken.wav'), '-m', model, '-o', vqt])).toBe(1);
    expect(await main(['--backend', 'cpu', 'decode', vqt, '-m', model, '-o', path.join(root, 'out.png')])).toBe(2);
  }, 60_000);
});
