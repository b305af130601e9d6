import { describe, expect, it } from 'vitest';
import { BadRequestError } from './errors.js';
import { decodeBinary, encodeBinary, fromNestedIntList, isB64Value, toNestedList } from './tensors.js';

describe('binary values', () => {
  const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255]);

  it('decodes plain and {"b64"} base64, the URL-safe alphabet and line-wrapped text to the same bytes', () => {
    const standard = bytes.toString('base64');
    expect(standard).toMatch(/[+/]/);
    for (const value of [standard, { b64: standard }, bytes.toString('base64url'), `${standard.slice(0, 4)}\n${standard.slice(4)}`]) {
      expect(decodeBinary(value, 'x').equals(bytes)).toBe(true);
    }
    expect(decodeBinary(encodeBinary(bytes), 'x').equals(bytes)).toBe(true);
  });

  it('rejects non-base64 text, empty values and other JSON types with 400', () => {
    for (const value of ['abc$', 'a', '', '====', 42, null, [bytes.toString('base64')], { b64: 1 }, { b64: 'AA==', extra: 1 }]) {
      expect(() => decodeBinary(value, 'x'), JSON.stringify(value)).toThrow(BadRequestError);
    }
  });

  it('tells a {"b64"} value from a map of named inputs', () => {
    expect(isB64Value({ b64: 'AA==' })).toBe(true);
    expect(isB64Value({ b64: 'AA==', image: 'x' })).toBe(false);
    expect(isB64Value({ image: { b64: 'AA==' } })).toBe(false);
    expect(isB64Value(['AA=='])).toBe(false);
  });
});

describe('nested integer lists', () => {
  it('round-trips row-major data through nested lists of any rank', () => {
    const data = Int32Array.from({ length: 24 }, (_, i) => i * 3 - 7);
    for (const shape of [[24], [4, 6], [2, 3, 4]]) {
      const nested = toNestedList(data, shape);
      const back = fromNestedIntList(nested, 'codes', 100);
      expect(back.shape).toEqual(shape);
      expect(Array.from(back.data)).toEqual(Array.from(data));
    }
    expect(toNestedList(data, [2, 3, 4])).toEqual([
      [[-7, -4, -1, 2], [5, 8, 11, 14], [17, 20, 23, 26]],
      [[29, 32, 35, 38], [41, 44, 47, 50], [53, 56, 59, 62]],
    ]);
  });

  it('rejects ragged, empty, non-integer and oversized lists before allocating', () => {
    for (const value of [[[1, 2], [3]], [[1, 2], 3], [], [[]], [1.5], ['1'], [2 ** 31], 5, { a: 1 }]) {
      expect(() => fromNestedIntList(value, 'codes', 100), JSON.stringify(value)).toThrow(BadRequestError);
    }
    expect(() => fromNestedIntList([[1, 2, 3], [4, 5, 6]], 'codes', 5)).toThrow(/at most 5/);
  });
});
