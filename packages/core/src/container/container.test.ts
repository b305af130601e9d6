import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NeighbourContextModelSet } from '../entropy/neighbour-model.js';
import { StaticModelSet } from '../entropy/static-model.js';
import { externalPredictorSpec } from '../entropy/external-model.js';
import { adaptiveSpec, fixedLengthSpec, modelFingerprint, uniformSpec, type EntropyModelSpec } from '../entropy/spec.js';
import {
  ContainerChecksumError,
  ContainerError,
  ContainerLimitError,
  ContainerMagicError,
  ContainerTruncatedError,
  ContainerVersionError,
  EntropyModelMismatchError,
  TokenizerMismatchError,
} from '../errors.js';
import { ByteWriter } from './bytes.js';
import { readContainer, readContainerHeader, writeContainer } from './container.js';
import { crc32 } from './crc32.js';
import type { CodeSegment, ContainerHeaderInit, ContainerLimits } from './format.js';
import { canonicalJson, computeTokenizerId } from './tokenizer-id.js';
import { Rng } from '../util/rng.js';

const TOKENIZER = computeTokenizerId([canonicalJson({ kind: 'vq', codebookSize: 512 }), new Float32Array([1, 2, 3])]);
const OTHER_TOKENIZER = computeTokenizerId([canonicalJson({ kind: 'vq', codebookSize: 512 }), new Float32Array([1, 2, 4])]);

/** Deterministic uniform [0, 1) stream so failures reproduce. */
const rng = (seed: number): (() => number) => {
  const r = new Rng(seed);
  return () => r.uniform();
};

/** A grid with spatially correlated, skewed codes (what a VQ tokenizer emits for smooth images). */
function codeGrid(shape: readonly number[], sizes: readonly number[], seed: number): Int32Array {
  const rand = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const codes = new Int32Array(n);
  const levels = sizes.length;
  for (let i = 0; i < n; i++) {
    const l = i % levels;
    const prev = i >= levels ? codes[i - levels] : 0;
    codes[i] = rand() < 0.6 ? prev % sizes[l] : Math.floor(rand() * rand() * sizes[l]);
  }
  return codes;
}

function recomputeCrc(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 4) return bytes;
  const out = bytes.slice();
  const crc = crc32(out, 0, out.length - 4);
  new DataView(out.buffer).setUint32(out.length - 4, crc);
  return out;
}

const imageHeader: ContainerHeaderInit = { modality: 'image', tokenizerId: TOKENIZER, codebookSizes: [512] };
const imageSegment: CodeSegment = { shape: [7, 7, 1], codes: codeGrid([7, 7, 1], [512], 1) };

describe('container round trip', () => {
  const staticSet = StaticModelSet.train([imageSegment.codes], [512]);
  const specs: EntropyModelSpec[] = [fixedLengthSpec, uniformSpec, adaptiveSpec, staticSet];
  for (const spec of specs) {
    it(`image 7×7 grid with the ${spec.kind} model`, () => {
      const bytes = writeContainer(imageHeader, [imageSegment], { model: spec });
      const { header, segments } = readContainer(bytes, { expectedTokenizerId: TOKENIZER, model: spec });
      expect(header.modality).toBe('image');
      expect(header.entropyModel).toBe(spec.kind);
      expect(header.codebookSizes).toEqual([512]);
      expect(segments).toHaveLength(1);
      expect(segments[0].shape).toEqual([7, 7, 1]);
      expect(Array.from(segments[0].codes)).toEqual(Array.from(imageSegment.codes));
    });
  }

  it('documented overhead: a 7×7 grid of 9-bit codes costs 23 header+checksum bytes on top of its 56-byte payload', () => {
    const bytes = writeContainer(imageHeader, [imageSegment], { model: fixedLengthSpec });
    const header = readContainerHeader(bytes);
    // magic 2 + version 1 + flags 1 + tokenizer id 8 + levels 1 + codebook size 512 (2-byte varint) + segment count 1
    // + descriptor 1 + dims 7, 7 (1 byte each) + CRC 4.
    expect(header.headerBytes + 4).toBe(2 + 1 + 1 + 8 + 1 + 2 + 1 + 1 + 2 + 4);
    expect(bytes.length - header.headerBytes - 4).toBe(Math.ceil((49 * 9) / 8));
  });

  it('audio-like multi-level residual codes, several segments, metadata', () => {
    const sizes = [1024, 1024, 256, 256];
    const segments: CodeSegment[] = [0, 1, 2].map((s) => ({ tag: s, shape: [50 + s, 4], codes: codeGrid([50 + s, 4], sizes, 10 + s) }));
    const metadata = new TextEncoder().encode('{"sampleRate":8000}');
    for (const spec of [fixedLengthSpec, adaptiveSpec, StaticModelSet.train(segments.map((s) => s.codes), sizes)]) {
      const bytes = writeContainer({ modality: 'audio', tokenizerId: TOKENIZER, codebookSizes: sizes, metadata }, segments, { model: spec });
      const { header, segments: out } = readContainer(bytes, { model: spec });
      expect(header.modality).toBe('audio');
      expect(new TextDecoder().decode(header.metadata)).toBe('{"sampleRate":8000}');
      expect(out.map((s) => s.tag)).toEqual([0, 1, 2]);
      for (let s = 0; s < 3; s++) {
        expect(out[s].shape).toEqual(segments[s].shape);
        expect(Array.from(out[s].codes)).toEqual(Array.from(segments[s].codes));
      }
    }
  });

  it('video-like frames (key frame + sparse updates, empty segment) with and without carried model state', () => {
    const key: CodeSegment = { tag: 0, shape: [8, 8, 1], codes: codeGrid([8, 8, 1], [65], 3) };
    const delta: CodeSegment = { tag: 1, shape: [5, 1], codes: Int32Array.from([64, 3, 64, 64, 7]) };
    const empty: CodeSegment = { tag: 1, shape: [0, 1], codes: new Int32Array(0) };
    const fourD: CodeSegment = { tag: 2, shape: [2, 3, 4, 1], codes: codeGrid([2, 3, 4, 1], [65], 4) };
    for (const carryModelState of [false, true]) {
      const bytes = writeContainer({ modality: 'video', tokenizerId: TOKENIZER, codebookSizes: [65], carryModelState }, [key, delta, empty, fourD]);
      const { header, segments } = readContainer(bytes);
      expect(header.carryModelState).toBe(carryModelState);
      expect(segments.map((s) => [s.tag, s.shape])).toEqual([
        [0, [8, 8, 1]],
        [1, [5, 1]],
        [1, [0, 1]],
        [2, [2, 3, 4, 1]],
      ]);
      expect(Array.from(segments[1].codes)).toEqual([64, 3, 64, 64, 7]);
      expect(Array.from(segments[3].codes)).toEqual(Array.from(fourD.codes));
    }
  });

  it('an external predictor (the prior) sees every level\'s history in coding order and round-trips', () => {
    const sizes = [32, 8];
    const seen: number[] = [];
    const spec = externalPredictorSpec({
      fingerprint: modelFingerprint(new TextEncoder().encode('prior weights v1')),
      createPredictor: (level, k) => (history, context) => {
        seen.push(history.length - context.position);
        // Favour the code this level had one step earlier, as a stand-in for a learned prior.
        const p = new Float64Array(k).fill(0.1);
        if (history.length >= 2) p[history[history.length - 2] % k] += 5;
        return p;
      },
    });
    const seg: CodeSegment = { shape: [10, 2], codes: Int32Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 3 : 5)) };
    const bytes = writeContainer({ modality: 'audio', tokenizerId: TOKENIZER, codebookSizes: sizes }, [seg], { model: spec });
    const { segments } = readContainer(bytes, { model: spec });
    expect(Array.from(segments[0].codes)).toEqual(Array.from(seg.codes));
    // history.length === position at every step: one shared, level-interleaved history.
    expect(new Set(seen)).toEqual(new Set([0]));
    expect(bytes.length).toBeLessThan(writeContainer({ tokenizerId: TOKENIZER, codebookSizes: sizes }, [seg], { model: uniformSpec }).length);
    const otherPrior = externalPredictorSpec({ fingerprint: modelFingerprint(new TextEncoder().encode('prior weights v2')), createPredictor: (_level, k) => () => new Float64Array(k).fill(1) });
    expect(() => readContainer(bytes, { model: otherPrior })).toThrow(EntropyModelMismatchError);
  });

  it('zero segments', () => {
    const bytes = writeContainer({ tokenizerId: TOKENIZER, codebookSizes: [2] }, []);
    expect(readContainer(bytes).segments).toEqual([]);
  });
});

describe('container identity checks', () => {
  it('decoding with a different tokenizer is a clear error naming both ids', () => {
    const bytes = writeContainer(imageHeader, [imageSegment]);
    const err = (() => {
      try {
        readContainer(bytes, { expectedTokenizerId: OTHER_TOKENIZER });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(TokenizerMismatchError);
    expect((err as TokenizerMismatchError).code).toBe('ERR_CONTAINER_TOKENIZER_MISMATCH');
    expect((err as Error).message).toContain(TOKENIZER);
    expect((err as Error).message).toContain(OTHER_TOKENIZER);
  });

  it('a learned model must be supplied and match the fingerprint', () => {
    const a = StaticModelSet.train([imageSegment.codes], [512]);
    const b = StaticModelSet.train([codeGrid([7, 7, 1], [512], 99)], [512]);
    const bytes = writeContainer(imageHeader, [imageSegment], { model: a });
    expect(readContainerHeader(bytes).modelFingerprint).toHaveLength(8);
    expect(() => readContainer(bytes)).toThrow(EntropyModelMismatchError);
    expect(() => readContainer(bytes, { model: b })).toThrow(/entropy model mismatch/);
    expect(() => readContainer(bytes, { model: adaptiveSpec })).toThrow(EntropyModelMismatchError);
    // The serialised model ships with the tokenizer and decodes the same.
    const shipped = StaticModelSet.fromBytes(a.toBytes());
    expect(Array.from(readContainer(bytes, { model: shipped }).segments[0].codes)).toEqual(Array.from(imageSegment.codes));
    expect(Array.from(readContainer(bytes, { model: StaticModelSet.fromJSON(JSON.parse(JSON.stringify(a))) }).segments[0].codes)).toEqual(Array.from(imageSegment.codes));
  });

  it('magic, version, checksum and truncation errors are typed', () => {
    const bytes = writeContainer(imageHeader, [imageSegment]);
    const badMagic = bytes.slice();
    badMagic[0] = 0x89;
    expect(() => readContainer(badMagic)).toThrow(ContainerMagicError);
    const badVersion = bytes.slice();
    badVersion[2] = 2;
    expect(() => readContainer(badVersion)).toThrow(ContainerVersionError);
    const flipped = bytes.slice();
    flipped[20] ^= 4;
    expect(() => readContainer(flipped)).toThrow(ContainerChecksumError);
    expect(() => readContainer(bytes.subarray(0, 10))).toThrow(ContainerTruncatedError);
  });

  it('oversized declared sizes fail with a limit error before allocating', () => {
    // Hand-built header declaring one segment of 2^32-1 × 2^32-1 codes and nothing else.
    const w = new ByteWriter();
    w.bytes(Uint8Array.of(0x56, 0x51, 1, 2 << 2));
    w.bytes(new Uint8Array(8));
    w.varint(1);
    w.varint(16);
    w.varint(1);
    w.varint(2);
    w.varint(2 ** 32 - 1);
    w.varint(2 ** 32 - 1);
    w.uint32(0);
    const huge = recomputeCrc(w.finish());
    expect(() => readContainer(huge)).toThrow(ContainerLimitError);
    // Every count field of a valid container, overwritten with the largest varint, is refused as a limit (or truncation) error.
    const valid = writeContainer({ modality: 'video', tokenizerId: TOKENIZER, codebookSizes: [5, 6], metadata: Uint8Array.of(9) }, [
      { shape: [2, 2], codes: Int32Array.of(1, 2, 3, 4) },
      { shape: [1, 2], codes: Int32Array.of(0, 0) },
    ]);
    const maxVarint = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f);
    // Offsets after the 12 fixed bytes: 12 levels, 13–14 sizes, 15 metadata length, 16 metadata, 17 segment count,
    // 18 descriptor, 19 dim, 20 descriptor, 21 dim, 22 first payload length.
    for (const [offset, expected] of [
      [12, ContainerLimitError],
      [13, ContainerLimitError],
      [14, ContainerLimitError],
      [15, ContainerLimitError],
      [17, ContainerLimitError],
      [19, ContainerLimitError],
      [21, ContainerLimitError],
      [22, ContainerTruncatedError],
    ] as const) {
      const bytes = Uint8Array.from([...valid.subarray(0, offset), ...maxVarint, ...valid.subarray(offset + 1)]);
      expect(() => readContainer(recomputeCrc(bytes)), `field at ${offset}`).toThrow(expected);
    }
    // Writers enforce the same limits.
    expect(() => writeContainer({ tokenizerId: TOKENIZER, codebookSizes: [2 ** 20] }, [])).toThrow(ContainerLimitError);
    expect(() => writeContainer({ tokenizerId: TOKENIZER, codebookSizes: [2] }, [{ shape: [10, 1], codes: new Int32Array(10) }], { limits: { maxTotalSymbols: 5 } })).toThrow(
      ContainerLimitError,
    );
  });
});

describe('container robustness (mutated inputs)', () => {
  const limits: ContainerLimits = { maxTotalSymbols: 1 << 14, maxSymbolsPerSegment: 1 << 14, maxSegments: 64 };
  const staticSet = StaticModelSet.train([imageSegment.codes], [512]);
  const neighbourSet = NeighbourContextModelSet.train([imageSegment], [512], { minContextCount: 1 });
  const pool: { bytes: Uint8Array; model: EntropyModelSpec | undefined }[] = [];
  for (const model of [fixedLengthSpec, uniformSpec, adaptiveSpec, staticSet, neighbourSet]) {
    pool.push({ bytes: writeContainer(imageHeader, [imageSegment], { model }), model });
  }
  const sizes = [300, 17];
  const multi: CodeSegment[] = [
    { tag: 0, shape: [4, 5, 2], codes: codeGrid([4, 5, 2], sizes, 5) },
    { tag: 3, shape: [6, 2], codes: codeGrid([6, 2], sizes, 6) },
  ];
  for (const model of [fixedLengthSpec, adaptiveSpec]) {
    pool.push({
      bytes: writeContainer({ modality: 'video', tokenizerId: TOKENIZER, codebookSizes: sizes, metadata: Uint8Array.of(1, 2, 3), carryModelState: true }, multi, { model }),
      model,
    });
  }

  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }), count: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
    // Oversized declared sizes: a maximal varint (2^32 - 1) written over a header field.
    fc.record({ kind: fc.constant('huge-varint' as const), at: fc.integer({ min: 4, max: 30 }) }),
    fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 120 }), keepPrefix: fc.boolean() }),
  );

  type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;
  function apply(base: Uint8Array, m: Mutation): Uint8Array {
    const n = base.length;
    switch (m.kind) {
      case 'truncate':
        return base.slice(0, m.at % n);
      case 'flip': {
        const out = base.slice();
        for (let i = 0; i < m.count; i++) out[(m.at + i * 7) % n] ^= 1 << ((m.bit + i) % 8);
        return out;
      }
      case 'insert': {
        const at = m.at % (n + 1);
        return Uint8Array.from([...base.subarray(0, at), ...m.bytes, ...base.subarray(at)]);
      }
      case 'delete': {
        const at = m.at % n;
        return Uint8Array.from([...base.subarray(0, at), ...base.subarray(at + m.count)]);
      }
      case 'overwrite': {
        const out = base.slice();
        out.set(m.bytes.subarray(0, Math.max(0, n - (m.at % n))), m.at % n);
        return out;
      }
      case 'huge-varint': {
        const out = base.slice();
        out.set(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f).subarray(0, Math.max(0, n - (m.at % n))), m.at % n);
        return out;
      }
      case 'random': {
        if (!m.keepPrefix) return m.bytes;
        return Uint8Array.from([0x56, 0x51, 1, ...m.bytes]);
      }
    }
  }

  it('≥ 10,000 mutated containers each give a typed error or a valid decode, quickly', () => {
    let typedErrors = 0;
    let decodes = 0;
    let slowest = 0;
    const codes = new Map<string, number>();
    fc.assert(
      fc.property(fc.nat({ max: pool.length - 1 }), mutation, fc.boolean(), (which, m, fixCrc) => {
        const { bytes: base, model } = pool[which];
        let input = apply(base, m);
        // Re-sealing the CRC lets mutations reach the header parser and payload decoders.
        if (fixCrc) input = recomputeCrc(input);
        const t0 = performance.now();
        try {
          const { header, segments } = readContainer(input, { model, limits });
          let total = 0;
          for (const seg of segments) {
            expect(seg.codes.length).toBe(seg.shape.reduce((a, b) => a * b, 1));
            total += seg.codes.length;
            for (let i = 0; i < seg.codes.length; i++) {
              const k = header.codebookSizes[i % header.codebookSizes.length];
              expect(seg.codes[i] >= 0 && seg.codes[i] < k).toBe(true);
            }
          }
          expect(total).toBeLessThanOrEqual(limits.maxTotalSymbols!);
          decodes++;
        } catch (err) {
          if (!(err instanceof ContainerError)) throw err;
          codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
          typedErrors++;
        }
        slowest = Math.max(slowest, performance.now() - t0);
      }),
      { numRuns: 12_000 },
    );
    expect(typedErrors + decodes).toBe(12_000);
    // Every failure class is reached: checksum (unsealed), and parser/decoder errors (sealed).
    for (const code of ['ERR_CONTAINER_CHECKSUM', 'ERR_CONTAINER_TRUNCATED', 'ERR_CONTAINER_LIMIT', 'ERR_CONTAINER_CORRUPT', 'ERR_CONTAINER_MAGIC', 'ERR_CONTAINER_VERSION']) {
      expect(codes.get(code) ?? 0).toBeGreaterThan(0);
    }
    // A hang guard, not a performance target: bounded sizes mean bounded work per input.
    expect(slowest).toBeLessThan(2000);
  });

  it('payload corruption with the checksum disabled is caught by the decoders', () => {
    let corrupt = 0;
    for (let trial = 0; trial < 400; trial++) {
      const rand = rng(trial + 1);
      const { bytes, model } = pool[trial % pool.length];
      const damaged = bytes.slice();
      const header = readContainerHeader(bytes);
      const at = header.headerBytes + Math.floor(rand() * (bytes.length - 4 - header.headerBytes));
      damaged[at] ^= 1 + Math.floor(rand() * 255);
      try {
        readContainer(damaged, { model, verifyChecksum: false });
      } catch (err) {
        expect(err).toBeInstanceOf(ContainerError);
        corrupt++;
      }
    }
    // Range-coded payloads usually decode to other codes when damaged (hence the CRC); some damage is still caught structurally.
    expect(corrupt).toBeGreaterThan(0);
  });
});
