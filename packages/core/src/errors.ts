/**
 * Typed errors. Every error vqkit throws on purpose is a `VqkitError` with a
 * stable `code`, so callers (and the CLI) can branch on it and print an
 * actionable message instead of a stack trace.
 */
export class VqkitError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option or argument has an invalid value. */
export class InvalidArgumentError extends VqkitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INVALID_ARGUMENT', message, options);
  }
}

/** A requested engine backend is unknown or could not be initialised. */
export class BackendError extends VqkitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_BACKEND', message, options);
  }
}

/** A file (model directory, dataset, container) is missing, unreadable or malformed. */
export class FileFormatError extends VqkitError {
  readonly path: string | undefined;
  constructor(message: string, path?: string, options?: { cause?: unknown }) {
    super('ERR_FILE_FORMAT', path === undefined ? message : `${path}: ${message}`, options);
    this.path = path;
  }
}
