import { VqkitError } from '@vqkit/core';

/**
 * Turns an error into the CLI's exit status and a message. vqkit's typed
 * errors are expected failures (bad input, missing files) and print as one
 * line; anything else is a bug and keeps its stack.
 */
export function reportError(err: unknown): number {
  if (err instanceof VqkitError) {
    console.error(`vqkit: error: ${err.message}`);
    return err.code === 'ERR_INVALID_ARGUMENT' ? 2 : 1;
  }
  console.error('vqkit: internal error:', err);
  return 70;
}
