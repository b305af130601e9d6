/**
 * HTTP-facing errors. Every failure a request can cause maps to one status
 * code and a TensorFlow Serving error body `{"error": "<message>"}`; the
 * classes here carry the status, and {@link httpStatusOf} maps vqkit's
 * library errors (bad images, corrupt containers, …) onto the same codes.
 */
import { VqkitError } from '@vqkit/core';

/** A request failed with a definite HTTP status. */
export class HttpError extends VqkitError {
  readonly status: number;
  constructor(status: number, code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}

/** 400: the request is malformed or its inputs are invalid. */
export class BadRequestError extends HttpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(400, 'ERR_SERVE_BAD_REQUEST', message, options);
  }
}

/** 404: no such model, version, signature or route. */
export class NotFoundError extends HttpError {
  constructor(message: string) {
    super(404, 'ERR_SERVE_NOT_FOUND', message);
  }
}

/** 413: the body, an image or the batch exceeds a configured limit. */
export class PayloadTooLargeError extends HttpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(413, 'ERR_SERVE_TOO_LARGE', message, options);
  }
}

/** 503: the queue is full, the request waited too long for a slot, or the server is shutting down. */
export class OverloadedError extends HttpError {
  constructor(message: string) {
    super(503, 'ERR_SERVE_OVERLOADED', message);
  }
}

/** 504: the request started but did not finish within the per-request timeout. */
export class DeadlineExceededError extends HttpError {
  constructor(message: string) {
    super(504, 'ERR_SERVE_DEADLINE', message);
  }
}

/** 499 (nginx's convention): the client closed the connection before the answer; nobody reads it. */
export class ClientClosedRequestError extends HttpError {
  constructor() {
    super(499, 'ERR_SERVE_CLIENT_CLOSED', 'the client closed the connection');
  }
}

/** Library error codes that mean "the client sent something too big". */
const TOO_LARGE_CODES = new Set(['ERR_CONTAINER_LIMIT']);
/** Library error codes that are the server's fault, not the request's. */
const SERVER_FAULT_CODES = new Set(['ERR_BACKEND']);

/**
 * The HTTP status for an error thrown while serving a request: the status of
 * an {@link HttpError}; 413 for size limits; 400 for any other vqkit error
 * (invalid arguments, undecodable images, corrupt or foreign containers —
 * all caused by the request's content); fastify's own status for its errors
 * (body too large, bad JSON); 500 for anything else (a bug).
 */
export function httpStatusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (err instanceof VqkitError) return TOO_LARGE_CODES.has(err.code) ? 413 : SERVER_FAULT_CODES.has(err.code) ? 500 : 400;
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 600) return status;
  return 500;
}
