import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@vqkit/core';
import { parseFsddName, tryParseFsddName } from './fsdd.js';
import { fsddDir } from './test-data.js';

describe('FSDD names', () => {
  it('parses digit, speaker, take and split', () => {
    expect(parseFsddName('/data/fsdd/7_jackson_32.wav')).toEqual({ digit: 7, speaker: 'jackson', index: 32, split: 'train' });
    expect(parseFsddName('0_george_4.wav').split).toBe('test');
    expect(parseFsddName('0_george_5.wav').split).toBe('train');
    expect(tryParseFsddName('README.md')).toBeUndefined();
    expect(() => parseFsddName('12_x_1.wav')).toThrow(InvalidArgumentError);
  });

  it.skipIf(!existsSync(fsddDir))('gives the official 10 % test split on the real dataset', () => {
    const infos = readdirSync(fsddDir).filter((f) => f.endsWith('.wav')).map(parseFsddName);
    const test = infos.filter((i) => i.split === 'test');
    expect(infos.length).toBe(3000);
    expect(test.length).toBe(300);
    expect(new Set(infos.map((i) => i.digit)).size).toBe(10);
  });
});
