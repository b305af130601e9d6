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

/** Stable codes of the token-container errors (see `ContainerError`). */
export type ContainerErrorCode =
  | 'ERR_CONTAINER_MAGIC'
  | 'ERR_CONTAINER_TRUNCATED'
  | 'ERR_CONTAINER_CHECKSUM'
  | 'ERR_CONTAINER_VERSION'
  | 'ERR_CONTAINER_TOKENIZER_MISMATCH'
  | 'ERR_CONTAINER_MODEL_MISMATCH'
  | 'ERR_CONTAINER_LIMIT'
  | 'ERR_CONTAINER_CORRUPT';

/**
 * A token container could not be read (or written): the base class of the
 * typed container errors, so callers can catch all of them at once and branch
 * on `code`.
 */
export class ContainerError extends VqkitError {
  declare readonly code: ContainerErrorCode;
  constructor(code: ContainerErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The bytes do not start with the container magic: not a vqkit token file. */
export class ContainerMagicError extends ContainerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONTAINER_MAGIC', message, options);
  }
}

/** The container ends before a field it declares. */
export class ContainerTruncatedError extends ContainerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONTAINER_TRUNCATED', message, options);
  }
}

/** The stored CRC32 does not match the bytes: the file is corrupt or truncated. */
export class ContainerChecksumError extends ContainerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONTAINER_CHECKSUM', message, options);
  }
}

/** The container's format version is not one this build can read. */
export class ContainerVersionError extends ContainerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONTAINER_VERSION', message, options);
  }
}

/** The container was written by a different tokenizer than the one decoding it. */
export class TokenizerMismatchError extends ContainerError {
  readonly expectedTokenizerId: string;
  readonly actualTokenizerId: string;
  constructor(expectedTokenizerId: string, actualTokenizerId: string) {
    super(
      'ERR_CONTAINER_TOKENIZER_MISMATCH',
      `tokenizer mismatch: the container was encoded by tokenizer ${actualTokenizerId} but is being decoded with tokenizer ${expectedTokenizerId}; load the tokenizer that wrote it`,
    );
    this.expectedTokenizerId = expectedTokenizerId;
    this.actualTokenizerId = actualTokenizerId;
  }
}

/** The container needs an entropy model (kind or learned parameters) other than the one supplied. */
export class EntropyModelMismatchError extends ContainerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONTAINER_MODEL_MISMATCH', message, options);
  }
}

/** A declared size exceeds a configured limit (checked before anything is allocated). */
export class ContainerLimitError extends ContainerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONTAINER_LIMIT', message, options);
  }
}

/** A field or the coded payload is structurally invalid (checksum disabled or a writer bug). */
export class ContainerCorruptError extends ContainerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONTAINER_CORRUPT', message, options);
  }
}

/** The entropy decoder reached a state no valid stream produces (corrupt or foreign payload). */
export class EntropyDecodeError extends VqkitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ENTROPY_DECODE', message, options);
  }
}
