/**
 * On-disk layout of a tokenized dataset (documented in the package README):
 *
 *   <out>/manifest.json                  what was tokenized, with what, and the completed shards
 *   <out>/shards/shard-000000.tokens     all codes of the shard's items, flat little-endian uint16/uint32
 *   <out>/shards/shard-000000.json       the shard index: per item source, label, offset, length, shape
 *   <out>/errors.json                    items that could not be tokenized, with the reason
 *
 * A shard is complete when its index exists, belongs to the same plan
 * (tokenizer id, dataset fingerprint, shard size) and the tokens file has the
 * SHA-256 the index records. Both files are written atomically (temp file +
 * rename) and the index last, so a killed writer leaves either a complete
 * shard or one that is simply redone; writing a shard twice (a retried or
 * duplicated job) writes the same bytes.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FileFormatError, writeFileAtomic } from '@vqkit/core';

export const SHARD_INDEX_FORMAT = 'vqkit.token-shard';
export const SHARD_INDEX_VERSION = 1;

/** Element type of the tokens files: uint16 when every code fits, else uint32. */
export type TokenDtype = 'uint16' | 'uint32';

export function tokenDtypeFor(codebookSizes: readonly number[]): TokenDtype {
  return Math.max(...codebookSizes) <= 0x10000 ? 'uint16' : 'uint32';
}

/** Identifies a tokenization: shards of another plan are never mixed into an output. */
export interface ShardPlan {
  tokenizerId: string;
  datasetFingerprint: string;
  shardSize: number;
  dtype: TokenDtype;
}

export function planKey(plan: ShardPlan): string {
  return createHash('sha256').update(`${plan.tokenizerId}\n${plan.datasetFingerprint}\n${plan.shardSize}\n${plan.dtype}`).digest('hex').slice(0, 16);
}

/** One tokenized item in a shard index. */
export interface ShardItem {
  source: string;
  index?: number;
  label?: number;
  /** First token of the item in the shard's tokens file (in tokens, not bytes). */
  offset: number;
  /** Tokens of the item (= product of `shape`). */
  length: number;
  /** Code grid shape: [h, w] / [h, w, levels] for images, [frames, levels] for audio. */
  shape: number[];
}

/** An item that could not be tokenized. */
export interface ItemError {
  source: string;
  index?: number;
  message: string;
}

export interface ShardIndex {
  format: typeof SHARD_INDEX_FORMAT;
  version: typeof SHARD_INDEX_VERSION;
  shard: number;
  plan: string;
  dtype: TokenDtype;
  tokens: number;
  tokensSha256: string;
  items: ShardItem[];
  errors: ItemError[];
}

/** What the manifest records of a completed shard. */
export interface ShardSummary {
  shard: number;
  items: number;
  tokens: number;
  errors: number;
  tokensSha256: string;
}

export function shardBaseName(shard: number): string {
  return `shard-${String(shard).padStart(6, '0')}`;
}

export function shardPaths(outDir: string, shard: number): { tokens: string; index: string } {
  const base = path.join(outDir, 'shards', shardBaseName(shard));
  return { tokens: `${base}.tokens`, index: `${base}.json` };
}

/** Result of tokenizing one item, as the tokenizer adapters return it. */
export type ItemResult = { codes: Int32Array; shape: number[] } | { error: string };

export interface ShardContent {
  shard: number;
  plan: ShardPlan;
  /** The shard's items, in order, with what tokenizing each gave. */
  items: readonly { source: string; index?: number; label?: number; result: ItemResult }[];
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Packs the shard's codes and writes tokens then index, each atomically. */
export function writeShard(outDir: string, content: ShardContent): ShardSummary {
  const { dtype } = content.plan;
  let total = 0;
  for (const { result } of content.items) if ('codes' in result) total += result.codes.length;
  const tokens = dtype === 'uint16' ? new Uint16Array(total) : new Uint32Array(total);
  const items: ShardItem[] = [];
  const errors: ItemError[] = [];
  let offset = 0;
  for (const item of content.items) {
    const where = item.index === undefined ? { source: item.source } : { source: item.source, index: item.index };
    if ('error' in item.result) {
      errors.push({ ...where, message: item.result.error });
      continue;
    }
    tokens.set(item.result.codes, offset);
    items.push({ ...where, ...(item.label === undefined ? {} : { label: item.label }), offset, length: item.result.codes.length, shape: item.result.shape });
    offset += item.result.codes.length;
  }
  // Typed arrays are host-endian; the format is little-endian (every platform Node supports for this is).
  const bytes = new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength);
  const tokensSha256 = sha256(bytes);
  const index: ShardIndex = {
    format: SHARD_INDEX_FORMAT,
    version: SHARD_INDEX_VERSION,
    shard: content.shard,
    plan: planKey(content.plan),
    dtype,
    tokens: total,
    tokensSha256,
    items,
    errors,
  };
  const paths = shardPaths(outDir, content.shard);
  fs.mkdirSync(path.dirname(paths.tokens), { recursive: true });
  writeFileAtomic(paths.tokens, bytes, { fsync: false });
  writeFileAtomic(paths.index, `${JSON.stringify(index)}\n`, { fsync: false });
  return { shard: content.shard, items: items.length, tokens: total, errors: errors.length, tokensSha256 };
}

function parseIndex(text: string, file: string): ShardIndex {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new FileFormatError(`shard index is not valid JSON (${(err as Error).message})`, file);
  }
  const index = parsed as Partial<ShardIndex>;
  if (index.format !== SHARD_INDEX_FORMAT || index.version !== SHARD_INDEX_VERSION || !Array.isArray(index.items) || !Array.isArray(index.errors)) {
    throw new FileFormatError(`not a ${SHARD_INDEX_FORMAT} v${SHARD_INDEX_VERSION} index`, file);
  }
  return index as ShardIndex;
}

/**
 * The summary of a complete shard of `plan` on disk, or undefined when the
 * shard is missing, partial, corrupt or from another plan (and must be
 * (re)done).
 */
export async function verifyShard(outDir: string, shard: number, plan: ShardPlan): Promise<ShardSummary | undefined> {
  const paths = shardPaths(outDir, shard);
  let index: ShardIndex;
  try {
    index = parseIndex(await fsp.readFile(paths.index, 'utf8'), paths.index);
  } catch {
    return undefined;
  }
  if (index.shard !== shard || index.plan !== planKey(plan) || index.dtype !== plan.dtype) return undefined;
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(paths.tokens);
  } catch {
    return undefined;
  }
  if (sha256(bytes) !== index.tokensSha256) return undefined;
  return { shard, items: index.items.length, tokens: index.tokens, errors: index.errors.length, tokensSha256: index.tokensSha256 };
}

/** A shard loaded for reading: the index and its tokens as a typed array view of the file. */
export interface LoadedShard {
  index: ShardIndex;
  tokens: Uint16Array | Uint32Array;
}

/** Reads one shard (checking its checksum), e.g. for a training loop. */
export async function loadShard(outDir: string, shard: number): Promise<LoadedShard> {
  const paths = shardPaths(outDir, shard);
  let text: string;
  try {
    text = await fsp.readFile(paths.index, 'utf8');
  } catch (err) {
    throw new FileFormatError(`missing shard index (${(err as NodeJS.ErrnoException).code ?? String(err)})`, paths.index);
  }
  const index = parseIndex(text, paths.index);
  const bytes = await fsp.readFile(paths.tokens);
  if (sha256(bytes) !== index.tokensSha256) throw new FileFormatError('tokens file does not match the checksum in its index (corrupt or partially written)', paths.tokens);
  const width = index.dtype === 'uint16' ? 2 : 4;
  if (bytes.byteLength !== index.tokens * width) throw new FileFormatError(`holds ${bytes.byteLength} bytes, index says ${index.tokens} ${index.dtype} tokens`, paths.tokens);
  const aligned = new Uint8Array(bytes.byteLength);
  aligned.set(bytes);
  const tokens = index.dtype === 'uint16' ? new Uint16Array(aligned.buffer) : new Uint32Array(aligned.buffer);
  return { index, tokens };
}
