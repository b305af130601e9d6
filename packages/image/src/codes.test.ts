import { FileFormatError } from '@vqkit/core';
import { describe, expect, it } from 'vitest';
import { imageCodesToJson, parseImageCodesJson } from './codes.js';

describe('image codes JSON', () => {
  const encoded = { codes: Int32Array.from([0, 5, 511, 7, 1, 2]), shape: [2, 3], height: 7, width: 11 };

  it('round-trips through JSON text with the tokenizer id and modality', () => {
    const doc = imageCodesToJson(encoded, '0123456789abcdef', [512]);
    expect(doc).toMatchObject({ modality: 'image', tokenizerId: '0123456789abcdef', codebookSizes: [512], shape: [2, 3] });
    const back = parseImageCodesJson(JSON.parse(JSON.stringify(doc)), 'codes.json');
    expect(back).toEqual({ ...encoded, tokenizerId: '0123456789abcdef' });
  });

  it('names the file and the field of malformed documents', () => {
    const good = imageCodesToJson(encoded, '0123456789abcdef', [512]);
    const bad = (patch: Record<string, unknown>) => () => parseImageCodesJson({ ...good, ...patch }, 'x.json');
    expect(bad({ modality: 'audio' })).toThrow(FileFormatError);
    expect(bad({ modality: 'audio' })).toThrow(/x\.json.*modality/);
    expect(bad({ tokenizerId: 'xyz' })).toThrow(/tokenizerId/);
    expect(bad({ shape: [2] })).toThrow(/shape/);
    expect(bad({ codes: [1, 2] })).toThrow(/2 codes do not fill/);
    expect(bad({ codes: [0, 1, 2, 3, 4, -1] })).toThrow(/non-negative/);
    expect(bad({ version: 2 })).toThrow(/version 2/);
    expect(() => parseImageCodesJson([1, 2], 'y.json')).toThrow(/y\.json/);
  });
});
