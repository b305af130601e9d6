import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@vqkit/core';
import { intArg, intListArg, intOption, numberOption, parseSize } from './flags.js';

describe('flag checks', () => {
  it('accepts integers at or above the minimum and leaves absent flags undefined', () => {
    expect(intOption('steps', '12', 1)).toBe(12);
    expect(intOption('queue', '0', 0)).toBe(0);
    expect(intOption('steps', undefined, 1)).toBeUndefined();
    expect(intArg('seed')('-3')).toBe(-3);
  });

  it('rejects non-integers, empty strings and values under the minimum with the flag name', () => {
    for (const bad of ['1.5', 'ten', '', ' ', '1e400', '0']) {
      expect(() => intOption('batch', bad, 1)).toThrow(InvalidArgumentError);
    }
    expect(() => intOption('batch', '0', 1)).toThrow('--batch must be a positive integer, got "0"');
    expect(() => intOption('queue', '-1', 0)).toThrow('--queue must be an integer ≥ 0');
  });

  it('checks numbers and lists', () => {
    expect(numberOption('lr', '2e-4')).toBe(2e-4);
    expect(() => numberOption('lr', 'NaN')).toThrow('--lr must be a number');
    expect(() => numberOption('max-body-mb', '-1', (n) => n > 0, 'a positive number')).toThrow('--max-body-mb must be a positive number');
    expect(intListArg('strides')('2,4,4,5')).toEqual([2, 4, 4, 5]);
    expect(() => intListArg('strides')('2,,4')).toThrow('--strides must be positive integers');
  });

  it('parses sizes as WxH or N', () => {
    expect(parseSize('256x144')).toEqual({ width: 256, height: 144 });
    expect(parseSize('64')).toEqual({ width: 64, height: 64 });
    expect(() => parseSize('0x4')).toThrow('--size must be positive');
    expect(() => parseSize('wide', 'crop')).toThrow('--crop must be WxH');
  });
});
