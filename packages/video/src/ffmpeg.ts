/**
 * Finding and running ffmpeg. vqkit decodes and encodes real video (H.264,
 * VP8/VP9, …) with an ffmpeg executable that is either
 *
 * - bundled: the static build shipped inside the npm package
 *   `@ffmpeg-installer/ffmpeg` (its per-platform package carries the binary
 *   in the registry tarball, so nothing is downloaded at install time), or
 * - system: an `ffmpeg` found on PATH.
 *
 * An explicit path (option or the `VQKIT_FFMPEG` environment variable) wins
 * over both. Every result says which one is used, and when none works the
 * error says what was tried.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { InvalidArgumentError } from '@vqkit/core';
import { FfmpegNotFoundError } from './errors.js';

/** Where the ffmpeg in use came from. */
export type FfmpegSource = 'option' | 'env' | 'bundled' | 'system';

/** A working ffmpeg executable. */
export interface FfmpegInfo {
  /** Absolute path (or the command name for a system ffmpeg found on PATH). */
  path: string;
  source: FfmpegSource;
  /** First line of `ffmpeg -version`, e.g. "ffmpeg version 6.1.1-3 …". */
  version: string;
}

export interface LocateFfmpegOptions {
  /** Use this executable (fails if it does not run). Default: env `VQKIT_FFMPEG`, then the search order. */
  path?: string;
  /** Which to try first when no explicit path is given. Default 'bundled' (the same build on every machine). */
  prefer?: 'bundled' | 'system';
}

/** Environment variable naming an ffmpeg executable to use. */
export const FFMPEG_ENV = 'VQKIT_FFMPEG';

const cache = new Map<string, Promise<string>>();

/** Runs `ffmpeg -version` and returns its first line; rejects if the executable does not run. */
function probeVersion(executable: string): Promise<string> {
  let pending = cache.get(executable);
  if (pending === undefined) {
    pending = new Promise<string>((resolve, reject) => {
      const child = spawn(executable, ['-hide_banner', '-version'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        out += chunk;
      });
      child.on('error', reject);
      child.on('close', (code) => {
        const first = out.split('\n', 1)[0]!.replace(/\s+Copyright.*$/, '').trim();
        if (code === 0 && first.startsWith('ffmpeg')) resolve(first);
        else reject(new Error(`\`${executable} -version\` exited with ${code}${first ? `: ${first}` : ''}`));
      });
    });
    cache.set(executable, pending);
    pending.catch(() => cache.delete(executable));
  }
  return pending;
}

/** Path of the binary in `@ffmpeg-installer/<platform>`, if that package is installed for this platform. */
function bundledPath(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const installer = require('@ffmpeg-installer/ffmpeg') as { path?: unknown };
    return typeof installer.path === 'string' ? installer.path : undefined;
  } catch {
    // The package throws a string when the platform has no binary package.
    return undefined;
  }
}

/** `ffmpeg` on PATH, if there is an executable one. */
function systemPath(): string | undefined {
  const names = process.platform === 'win32' ? ['ffmpeg.exe'] : ['ffmpeg'];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    for (const name of names) {
      const candidate = path.join(dir, name);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        if (fs.statSync(candidate).isFile()) return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/**
 * Finds a working ffmpeg: `options.path`, else `$VQKIT_FFMPEG`, else the
 * bundled and the system one in the `prefer` order. Throws
 * `FfmpegNotFoundError` listing everything tried.
 */
export async function locateFfmpeg(options: LocateFfmpegOptions = {}): Promise<FfmpegInfo> {
  const prefer = options.prefer ?? 'bundled';
  if (prefer !== 'bundled' && prefer !== 'system') throw new InvalidArgumentError(`prefer must be 'bundled' or 'system', got ${JSON.stringify(prefer)}`);
  const explicit: [string | undefined, FfmpegSource][] = [
    [options.path, 'option'],
    [process.env[FFMPEG_ENV] || undefined, 'env'],
  ];
  for (const [p, source] of explicit) {
    if (p === undefined) continue;
    try {
      return { path: p, source, version: await probeVersion(p) };
    } catch (err) {
      const what = source === 'env' ? `$${FFMPEG_ENV}=${p}` : p;
      throw new FfmpegNotFoundError(`ffmpeg at ${what} does not run (${(err as Error).message})`, { cause: err });
    }
  }
  const order: FfmpegSource[] = prefer === 'bundled' ? ['bundled', 'system'] : ['system', 'bundled'];
  const tried: string[] = [];
  for (const source of order) {
    const p = source === 'bundled' ? bundledPath() : systemPath();
    if (p === undefined) {
      tried.push(source === 'bundled' ? 'bundled: @ffmpeg-installer/ffmpeg has no binary for this platform' : 'system: no ffmpeg on PATH');
      continue;
    }
    try {
      return { path: p, source, version: await probeVersion(p) };
    } catch (err) {
      tried.push(`${source}: ${p} does not run (${(err as Error).message})`);
    }
  }
  throw new FfmpegNotFoundError(
    `no working ffmpeg found (${tried.join('; ')}). Install the optional dependency @ffmpeg-installer/ffmpeg, install ffmpeg on the system (e.g. apt-get install ffmpeg), or set ${FFMPEG_ENV} to an ffmpeg executable`,
  );
}

/** Either a located ffmpeg or options to locate one. */
export type FfmpegChoice = FfmpegInfo | LocateFfmpegOptions;

/** Resolves an `FfmpegChoice` to a working ffmpeg. */
export async function resolveFfmpeg(choice: FfmpegChoice | undefined): Promise<FfmpegInfo> {
  if (choice !== undefined && 'source' in choice && 'version' in choice) return choice;
  return locateFfmpeg(choice as LocateFfmpegOptions | undefined);
}

/** One-line description for logs: "bundled ffmpeg (ffmpeg version …)". */
export function describeFfmpeg(info: FfmpegInfo): string {
  const where = { option: 'ffmpeg', env: `ffmpeg from $${FFMPEG_ENV}`, bundled: 'bundled ffmpeg (@ffmpeg-installer)', system: 'system ffmpeg' }[info.source];
  return `${where} ${info.path} (${info.version})`;
}

/** Last lines of ffmpeg's stderr, for error messages. */
export function stderrTail(stderr: string, lines = 6): string {
  const kept = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return kept.slice(-lines).join(' | ');
}
