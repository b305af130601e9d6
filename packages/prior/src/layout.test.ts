import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  audioCodesToSequence,
  audioSequenceLength,
  audioTokenConstraint,
  imageCodesToSequence,
  imageTokenConstraint,
  sequenceToAudioCodes,
  sequenceToImageCodes,
} from './layout.js';
import { classTokenId, createVocabulary } from './vocabulary.js';

describe('vocabulary', () => {
  it('puts codes first, then BOS, PAD and the class tokens', () => {
    const v = createVocabulary({ codebookSize: 16, levels: 2, numClasses: 3, padToken: true });
    expect(v).toEqual({ codebookSize: 16, levels: 2, codeTokens: 32, bosId: 32, padId: 33, numClasses: 3, firstClassId: 34, vocabSize: 37 });
    expect(classTokenId(v, 2)).toBe(36);
    expect(() => classTokenId(v, 3)).toThrow(/\[0, 3\)/);
    expect(() => classTokenId(createVocabulary({ codebookSize: 4 }), 0)).toThrow(/no class tokens/);
    expect(createVocabulary({ codebookSize: 4 }).padId).toBe(-1);
  });
});

describe('image layout', () => {
  const vocabulary = createVocabulary({ codebookSize: 8, numClasses: 10 });
  const grid = { height: 2, width: 3 };

  it('is [prefix, raster-order codes] and round-trips', () => {
    const codes = [5, 1, 0, 7, 2, 3];
    expect(Array.from(imageCodesToSequence(codes, grid, { vocabulary }))).toEqual([8, ...codes]);
    const seq = imageCodesToSequence(codes, grid, { vocabulary, classIndex: 7 });
    expect(seq[0]).toBe(vocabulary.firstClassId + 7);
    const back = sequenceToImageCodes(seq, grid, vocabulary);
    expect(back.classIndex).toBe(7);
    expect(Array.from(back.codes)).toEqual(codes);
    // Codes without the prefix (what generate returns) decode too.
    expect(Array.from(sequenceToImageCodes(codes, grid, vocabulary).codes)).toEqual(codes);
  });

  it('rejects wrong sizes and out-of-codebook values', () => {
    expect(() => imageCodesToSequence([1, 2], grid, { vocabulary })).toThrow(/expected 2x3 = 6 codes/);
    expect(() => imageCodesToSequence([1, 2, 3, 4, 5, 8], grid, { vocabulary })).toThrow(/outside the codebook/);
    expect(() => sequenceToImageCodes([8, 1, 2, 3, 4, 5, 9], grid, vocabulary)).toThrow(/outside the codebook/);
    expect(() => sequenceToImageCodes([3, 1, 2, 3, 4, 5, 6], grid, vocabulary)).toThrow(/neither BOS/);
  });

  it('the image constraint allows exactly the code tokens', () => {
    expect(imageTokenConstraint(vocabulary)(5)).toEqual({ start: 0, end: 8 });
  });

  it('multi-level grids: the levels of a cell follow each other, level l offset by l*K, and the constraint follows the level', () => {
    const rvq = createVocabulary({ codebookSize: 4, levels: 2 });
    const codes = [3, 1, 0, 2, 1, 1, 2, 0, 3, 3, 0, 0]; // [2, 3, 2] row-major
    const seq = imageCodesToSequence(codes, grid, { vocabulary: rvq });
    expect(Array.from(seq)).toEqual([rvq.bosId, 3, 5, 0, 6, 1, 5, 2, 4, 3, 7, 0, 4]);
    expect(Array.from(sequenceToImageCodes(seq, grid, rvq).codes)).toEqual(codes);
    expect(() => sequenceToImageCodes([rvq.bosId, 3, 1, ...codes.slice(2)], grid, rvq)).toThrow(/level-1 code token/);
    const constraint = imageTokenConstraint(rvq);
    expect([constraint(0), constraint(1), constraint(4)]).toEqual([
      { start: 0, end: 4 },
      { start: 4, end: 8 },
      { start: 0, end: 4 },
    ]);
  });
});

describe('audio layout', () => {
  const vocabulary = createVocabulary({ codebookSize: 4, levels: 3, numClasses: 2, padToken: true });
  // 2 frames x 3 levels.
  const codes = [1, 2, 3, 0, 1, 2];

  it('flatten: frame by frame, level l offset by l*K', () => {
    const seq = audioCodesToSequence(codes, { vocabulary });
    expect(Array.from(seq)).toEqual([vocabulary.bosId, 1, 6, 11, 0, 5, 10]);
  });

  it('delay: level l shifted by l frames, PAD in the gaps', () => {
    const P = vocabulary.padId;
    const seq = audioCodesToSequence(codes, { vocabulary, pattern: 'delay', classIndex: 1 });
    // steps: s0 = (f0l0, -, -), s1 = (f1l0, f0l1, -), s2 = (-, f1l1, f0l2), s3 = (-, -, f1l2)
    expect(Array.from(seq)).toEqual([vocabulary.firstClassId + 1, 1, P, P, 0, 6, P, P, 5, 11, P, P, 10]);
    expect(seq.length - 1).toBe(audioSequenceLength(2, 3, 'delay'));
    const constraint = audioTokenConstraint(vocabulary, 'delay', 2);
    for (let i = 0; i < seq.length - 1; i++) {
      const r = constraint(i);
      expect(seq[i + 1]).toBeGreaterThanOrEqual(r.start);
      expect(seq[i + 1]).toBeLessThan(r.end);
    }
  });

  it('round-trips both patterns for any codes (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.constantFrom('flatten' as const, 'delay' as const), fc.option(fc.integer({ min: 0, max: 1 })), (frames, pattern, cls) =>
        fc.assert(
          fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: frames * 3, maxLength: frames * 3 }), (c) => {
            const seq = audioCodesToSequence(c, { vocabulary, pattern, classIndex: cls ?? undefined });
            const back = sequenceToAudioCodes(seq, vocabulary, pattern);
            expect(back.frames).toBe(frames);
            expect(back.classIndex).toBe(cls);
            expect(Array.from(back.codes)).toEqual(c);
            // Every token satisfies the sampling constraint of its step.
            const constraint = audioTokenConstraint(vocabulary, pattern, frames);
            for (let i = 1; i < seq.length; i++) {
              const r = constraint(i - 1);
              expect(seq[i]! >= r.start && seq[i]! < r.end).toBe(true);
            }
          }),
          { numRuns: 5 },
        ),
      ),
      { numRuns: 30 },
    );
  });

  it('rejects malformed input', () => {
    expect(() => audioCodesToSequence([1, 2], { vocabulary })).toThrow(/frames of 3 levels/);
    expect(() => audioCodesToSequence(codes, { vocabulary: createVocabulary({ codebookSize: 4, levels: 3 }), pattern: 'delay' })).toThrow(/PAD token/);
    // A level-0 code in a level-1 slot.
    expect(() => sequenceToAudioCodes([vocabulary.bosId, 1, 1, 11], vocabulary)).toThrow(/level-1/);
  });
});
