/**
 * Crash-safe file replacement for checkpoints, model files and reports.
 *
 * The data goes to a temporary file in the *same directory* (rename is only
 * atomic within one file system), is fsynced, and is then renamed over the
 * target. Readers therefore see either the complete old file or the complete
 * new one, never a torn write — even if the process is killed mid-write. On
 * any failure the temporary file is removed and the old content is untouched.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * What to write: a string (UTF-8), bytes, or a sequence of byte chunks
 * (e.g. many weight tensors) written one after another without first
 * concatenating them. If iterating the chunks throws, the write is aborted
 * and the target is left as it was.
 */
export type AtomicWriteData = string | Uint8Array | Iterable<Uint8Array>;

/** Like {@link AtomicWriteData}, plus async chunk sources. */
export type AtomicWriteDataAsync = AtomicWriteData | AsyncIterable<Uint8Array>;

export interface AtomicWriteOptions {
  /** File mode for a newly created file. Default 0o666 (minus umask). */
  mode?: number;
  /**
   * fsync the file before the rename and the directory after it, so the new
   * content survives a power loss, not just a process crash. Default true.
   */
  fsync?: boolean;
}

function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  // Hidden, unique per process and call, and recognisably ours.
  return path.join(dir, `.${base}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function isChunkIterable(data: unknown): data is Iterable<Uint8Array> {
  return typeof data === 'object' && data !== null && Symbol.iterator in data && !(data instanceof Uint8Array);
}

function writeAllSync(fd: number, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
}

async function writeAll(handle: fsp.FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

function fsyncDirectorySync(dir: string): void {
  // Makes the rename itself durable. Not supported on every platform/file
  // system (e.g. Windows): best effort only.
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // ignore: durability of the directory entry is best effort
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Atomically replaces (or creates) `filePath` with `data`. Synchronous. */
export function writeFileAtomic(filePath: string, data: AtomicWriteData, options: AtomicWriteOptions = {}): void {
  const target = path.resolve(filePath);
  const doSync = options.fsync ?? true;
  const temp = tempPathFor(target);
  let fd: number | undefined;
  try {
    fd = fs.openSync(temp, 'wx', options.mode ?? 0o666);
    if (typeof data === 'string') writeAllSync(fd, Buffer.from(data, 'utf8'));
    else if (data instanceof Uint8Array) writeAllSync(fd, data);
    else if (isChunkIterable(data)) for (const chunk of data) writeAllSync(fd, chunk);
    else throw new TypeError('writeFileAtomic: data must be a string, a Uint8Array or an iterable of Uint8Array');
    if (doSync) fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temp, target);
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing; the original error is the one to report
      }
    }
    fs.rmSync(temp, { force: true });
    throw err;
  }
  if (doSync) fsyncDirectorySync(path.dirname(target));
}

/** Atomically replaces (or creates) `filePath` with `data`. */
export async function writeFileAtomicAsync(
  filePath: string,
  data: AtomicWriteDataAsync,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const target = path.resolve(filePath);
  const doSync = options.fsync ?? true;
  const temp = tempPathFor(target);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(temp, 'wx', options.mode ?? 0o666);
    if (typeof data === 'string') await writeAll(handle, Buffer.from(data, 'utf8'));
    else if (data instanceof Uint8Array) await writeAll(handle, data);
    else if (typeof data === 'object' && data !== null && (Symbol.asyncIterator in data || Symbol.iterator in data)) {
      for await (const chunk of data as AsyncIterable<Uint8Array> | Iterable<Uint8Array>) await writeAll(handle, chunk);
    } else {
      throw new TypeError('writeFileAtomicAsync: data must be a string, a Uint8Array or an (async) iterable of Uint8Array');
    }
    if (doSync) await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(temp, target);
  } catch (err) {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    await fsp.rm(temp, { force: true });
    throw err;
  }
  if (doSync) {
    let dirHandle: fsp.FileHandle | undefined;
    try {
      dirHandle = await fsp.open(path.dirname(target), 'r');
      await dirHandle.sync();
    } catch {
      // best effort, see fsyncDirectorySync
    } finally {
      await dirHandle?.close().catch(() => undefined);
    }
  }
}
