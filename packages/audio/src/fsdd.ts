/**
 * Free Spoken Digit Dataset (FSDD) helpers. Recordings are 8 kHz mono
 * 16-bit WAVs named `{digit}_{speaker}_{index}.wav`; by the dataset's own
 * convention, indices 0–4 of every speaker and digit form the test split.
 */
import path from 'node:path';
import { InvalidArgumentError } from '@vqkit/core';

/** What an FSDD file name says about the recording. */
export interface FsddRecordingInfo {
  /** Spoken digit, 0–9 (the class label). */
  readonly digit: number;
  /** Speaker name, e.g. "jackson". */
  readonly speaker: string;
  /** Take number for this speaker and digit. */
  readonly index: number;
  /** 'test' for takes 0–4 (the official test split), else 'train'. */
  readonly split: 'train' | 'test';
}

/** Sample rate of the FSDD recordings. */
export const FSDD_SAMPLE_RATE = 8000;

const FSDD_NAME = /^(\d)_([A-Za-z]+)_(\d+)\.wav$/;

/** Parses an FSDD path or file name, or returns undefined if it does not follow the naming scheme. */
export function tryParseFsddName(file: string): FsddRecordingInfo | undefined {
  const match = FSDD_NAME.exec(path.basename(file));
  if (match === null) return undefined;
  const index = Number(match[3]);
  return { digit: Number(match[1]), speaker: match[2]!, index, split: index <= 4 ? 'test' : 'train' };
}

/** Parses an FSDD path or file name (`7_jackson_32.wav`). */
export function parseFsddName(file: string): FsddRecordingInfo {
  const info = tryParseFsddName(file);
  if (info === undefined) {
    throw new InvalidArgumentError(`not an FSDD file name (expected digit_speaker_index.wav): ${path.basename(file)}`);
  }
  return info;
}
