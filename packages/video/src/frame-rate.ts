/**
 * Frame rates as exact rationals (NTSC 29.97 fps is 30000/1001, and a
 * decimal approximation drifts by a frame every ~33 s).
 */
import { InvalidArgumentError } from '@vqkit/core';

export interface FrameRate {
  /** Frames per `den` seconds. */
  num: number;
  den: number;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** The NTSC family that decimal printouts ("29.97", "23.98", "59.94") stand for. */
const NTSC = [24, 30, 48, 60, 120];

/**
 * Converts frames per second to a rational: the NTSC rates N·1000/1001 are
 * recognised from their rounded decimals, anything else is kept to 1/1000 fps.
 */
export function toFrameRate(fps: number): FrameRate {
  if (!(fps > 0) || !Number.isFinite(fps) || fps > 1000) throw new InvalidArgumentError(`frame rate must be a positive number of frames per second up to 1000, got ${fps}`);
  for (const n of NTSC) {
    if (Math.abs(fps - (n * 1000) / 1001) < 0.006) return { num: n * 1000, den: 1001 };
  }
  const num = Math.round(fps * 1000);
  const g = gcd(num, 1000);
  return { num: num / g, den: 1000 / g };
}

/** Frames per second of a rational rate. */
export function fpsOf(rate: FrameRate): number {
  return rate.num / rate.den;
}

/** "30000/1001" — ffmpeg's notation. */
export function formatFrameRate(rate: FrameRate): string {
  return rate.den === 1 ? String(rate.num) : `${rate.num}/${rate.den}`;
}
