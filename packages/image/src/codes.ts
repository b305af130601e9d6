/**
 * Image codes as a readable JSON document (`vqkit encode image --format
 * json`): the code grid plus the id of the tokenizer that made it, so codes
 * are never decoded by another tokenizer. The binary form is the `.vqt`
 * container of the compression module (`packImageCodes`).
 */
import { FileFormatError } from '@vqkit/core';
import type { EncodedImage } from './tokenizer.js';

export const IMAGE_CODES_JSON_FORMAT = 'vqkit.image-codes';
export const IMAGE_CODES_JSON_VERSION = 1;

/** What a JSON codes file holds. */
export interface ImageCodesJson {
  format: typeof IMAGE_CODES_JSON_FORMAT;
  version: typeof IMAGE_CODES_JSON_VERSION;
  modality: 'image';
  /** Id of the tokenizer that made the codes (`ImageTokenizer.id`). */
  tokenizerId: string;
  /** Codebook size per quantizer level. */
  codebookSizes: number[];
  /** Pixel size of the encoded image. */
  height: number;
  width: number;
  /** Code grid shape, [h, w] or [h, w, levels]. */
  shape: number[];
  /** Codes in row-major order. */
  codes: number[];
}

/** Codes read back from a file, with the id of the tokenizer that made them. */
export interface StoredImageCodes extends EncodedImage {
  tokenizerId: string;
}

/** The JSON document for one image's codes. */
export function imageCodesToJson(encoded: EncodedImage, tokenizerId: string, codebookSizes: readonly number[]): ImageCodesJson {
  return {
    format: IMAGE_CODES_JSON_FORMAT,
    version: IMAGE_CODES_JSON_VERSION,
    modality: 'image',
    tokenizerId,
    codebookSizes: [...codebookSizes],
    height: encoded.height,
    width: encoded.width,
    shape: [...encoded.shape],
    codes: Array.from(encoded.codes),
  };
}

function positiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

/**
 * Checks a parsed JSON codes file. Throws FileFormatError naming `source`
 * and the offending field. Code ranges are checked by the tokenizer's decode.
 */
export function parseImageCodesJson(value: unknown, source = 'codes JSON'): StoredImageCodes {
  const fail = (message: string): never => {
    throw new FileFormatError(message, source);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object');
  const doc = value as Record<string, unknown>;
  if (doc.modality !== 'image') fail(`"modality" is ${JSON.stringify(doc.modality)}, not "image"`);
  if (doc.format !== undefined && doc.format !== IMAGE_CODES_JSON_FORMAT) fail(`"format" is ${JSON.stringify(doc.format)}, expected "${IMAGE_CODES_JSON_FORMAT}"`);
  if (doc.version !== undefined && doc.version !== IMAGE_CODES_JSON_VERSION) fail(`version ${JSON.stringify(doc.version)} is not supported (this vqkit reads ${IMAGE_CODES_JSON_VERSION})`);
  if (typeof doc.tokenizerId !== 'string' || !/^[0-9a-f]{16}$/.test(doc.tokenizerId)) fail('"tokenizerId" must be 16 lowercase hex digits');
  const shape = doc.shape;
  if (!Array.isArray(shape) || (shape.length !== 2 && shape.length !== 3) || !shape.every(positiveInteger)) fail('"shape" must be [h, w] or [h, w, levels] of positive integers');
  const codes = doc.codes;
  if (!Array.isArray(codes) || !codes.every((c) => typeof c === 'number' && Number.isInteger(c) && c >= 0)) fail('"codes" must be an array of non-negative integers');
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  if ((codes as number[]).length !== count) fail(`${(codes as number[]).length} codes do not fill the [${String(shape)}] grid`);
  if (!positiveInteger(doc.height) || !positiveInteger(doc.width)) fail('"height" and "width" must be positive integers');
  return {
    tokenizerId: doc.tokenizerId as string,
    codes: Int32Array.from(codes as number[]),
    shape: [...(shape as number[])],
    height: doc.height as number,
    width: doc.width as number,
  };
}
