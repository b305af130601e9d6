/**
 * Checks of numeric and list flags, shared by every command. Two forms: the
 * `…Option` functions validate a string a command received (undefined when the
 * flag was not given, so the library's default applies); the `…Arg` ones are
 * commander argument parsers built on them.
 */
import { InvalidArgumentError } from '@vqkit/core';

function integerWhat(min: number): string {
  if (min === -Infinity) return 'an integer';
  if (min === 1) return 'a positive integer';
  return `an integer ≥ ${min}`;
}

/** `value` as an integer ≥ `min`; undefined when absent. */
export function intOption(name: string, value: string | undefined, min = -Infinity): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < min) {
    throw new InvalidArgumentError(`--${name} must be ${integerWhat(min)}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** `value` as a finite number passing `check` (described by `what` in the error); undefined when absent. */
export function numberOption(
  name: string,
  value: string | undefined,
  check: (n: number) => boolean = () => true,
  what = 'a number',
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !check(n)) throw new InvalidArgumentError(`--${name} must be ${what}, got ${JSON.stringify(value)}`);
  return n;
}

/** Commander parser: an integer ≥ `min`. */
export function intArg(name: string, min = -Infinity): (value: string) => number {
  return (value) => intOption(name, value, min)!;
}

/** Commander parser: a finite number passing `check`. */
export function numberArg(name: string, check?: (n: number) => boolean, what?: string): (value: string) => number {
  return (value) => numberOption(name, value, check, what)!;
}

/** Commander parser: comma-separated positive integers. */
export function intListArg(name: string): (value: string) => number[] {
  return (value) => {
    const parts = value.split(',').map(Number);
    if (parts.some((n) => !Number.isSafeInteger(n) || n < 1)) {
      throw new InvalidArgumentError(`--${name} must be positive integers separated by commas, got ${JSON.stringify(value)}`);
    }
    return parts;
  };
}

/** Commander accumulator for a repeatable flag. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `256x144` (width x height) or `64` (a square). */
export function parseSize(value: string, name = 'size'): { width: number; height: number } {
  const m = /^(\d+)(?:x(\d+))?$/i.exec(value.trim());
  if (m === null) throw new InvalidArgumentError(`--${name} must be WxH (e.g. 256x144) or N for a square, got ${JSON.stringify(value)}`);
  const width = Number(m[1]);
  const height = Number(m[2] ?? m[1]);
  if (width < 1 || height < 1) throw new InvalidArgumentError(`--${name} must be positive, got ${JSON.stringify(value)}`);
  return { width, height };
}
