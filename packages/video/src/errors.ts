/**
 * Typed errors of the video package. Each is a `VqkitError` with a stable
 * `code`, so the CLI prints one line and callers can branch on the code.
 */
import { VqkitError } from '@vqkit/core';

/** Neither a bundled nor a system ffmpeg could be found or run. */
export class FfmpegNotFoundError extends VqkitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_FFMPEG_NOT_FOUND', message, options);
  }
}

/** A video could not be decoded (unreadable, truncated or corrupt input, or no video stream). */
export class VideoDecodeError extends VqkitError {
  /** The input that failed. */
  readonly input: string;
  constructor(message: string, input: string, options?: { cause?: unknown }) {
    super('ERR_VIDEO_DECODE', `${input}: ${message}`, options);
    this.input = input;
  }
}

/** Writing a video (ffmpeg encoding or a frames directory) failed. */
export class VideoEncodeError extends VqkitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_VIDEO_ENCODE', message, options);
  }
}
