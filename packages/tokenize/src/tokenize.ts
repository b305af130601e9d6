/**
 * `tokenizeDataset`: list the dataset, plan shards, skip the ones already
 * complete on disk, run the rest in this thread, on worker threads or over a
 * Redis queue, and keep `manifest.json` current after every shard.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { InvalidArgumentError, writeFileAtomic } from '@vqkit/core';
import { runShardJob, TokenizerCache, type ShardJob } from './job.js';
import { listItems, type DatasetListing, type ListItemsOptions } from './items.js';
import { WorkerPool } from './pool.js';
import { runOnQueue } from './queue.js';
import { planKey, shardPaths, tokenDtypeFor, verifyShard, type ItemError, type ShardIndex, type ShardPlan, type ShardSummary, type TokenDtype } from './shards.js';
import { loadDatasetTokenizer, type DatasetModality } from './tokenizers.js';

export const MANIFEST_FILE = 'manifest.json';
export const ERRORS_FILE = 'errors.json';
export const MANIFEST_FORMAT = 'vqkit.token-dataset';
export const MANIFEST_VERSION = 1;

export interface TokenDatasetManifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  plan: string;
  tokenizer: { id: string; dir: string; modality: DatasetModality; codebookSizes: number[] };
  data: { paths: string[]; kinds: DatasetListing['kind']; items: number; fingerprint: string };
  dtype: TokenDtype;
  shardSize: number;
  shardCount: number;
  /** Completed shards, by shard number, with the checksum of their tokens file. */
  shards: ShardSummary[];
  /** True once every shard is complete. */
  complete: boolean;
  totals: { items: number; tokens: number; errors: number };
}

export interface TokenizeProgress {
  shardsDone: number;
  shardCount: number;
  /** Items finished (tokenized or reported as errors), including reused shards. */
  itemsDone: number;
  itemsTotal: number;
  errors: number;
  /** Items per second of this run (reused shards excluded). */
  itemsPerSecond: number;
  etaSeconds: number;
}

export interface TokenizeDatasetOptions {
  /** Tokenizer directory. */
  tokenizer: string;
  /** A folder, an IDX(.gz) file or a list file (see `listItems`), or several, concatenated. */
  data: string | string[];
  /** Output directory (created if needed). */
  outDir: string;
  /** Items per shard. Default 4096. */
  shardSize?: number;
  /**
   * Local worker threads; 0 runs in this thread. Default: the number of
   * cores, capped at the shards left. Ignored with `queue`.
   */
  workers?: number;
  /** Engine backend for worker threads. Default auto. */
  backend?: string;
  /** Distribute the shards over this Redis URL's BullMQ queue instead of local workers. */
  queue?: string;
  /** Queue name. Default `vqkit-tokenize`. */
  queueName?: string;
  /** Dataset listing options. */
  listing?: ListItemsOptions;
  onProgress?: (progress: TokenizeProgress) => void;
  /** Aborting stops dispatching shards; finished ones are kept and the run can be resumed. */
  signal?: AbortSignal;
}

export interface TokenizeDatasetResult {
  manifest: TokenDatasetManifest;
  /** Shards found complete on disk and kept. */
  shardsReused: number;
  /** Shards written by this run. */
  shardsWritten: number;
  /** Queue runs: shards that were started more than once (a worker died or stalled holding them). */
  shardsRedelivered: number;
  /** Shards that failed (left for the next run). */
  failedShards: { shard: number; message: string }[];
  aborted: boolean;
  seconds: number;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
  return value;
}

async function readManifest(file: string): Promise<TokenDatasetManifest | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as TokenDatasetManifest;
  } catch {
    return undefined;
  }
}

/** Reads the manifest of a tokenized dataset directory. */
export async function readTokenDatasetManifest(outDir: string): Promise<TokenDatasetManifest> {
  const manifest = await readManifest(path.join(outDir, MANIFEST_FILE));
  if (manifest?.format !== MANIFEST_FORMAT) throw new InvalidArgumentError(`${outDir} has no readable ${MANIFEST_FILE}; is it a vqkit tokenize output?`);
  return manifest;
}

/** Gathers the per-shard error lists into one report. */
async function collectErrors(outDir: string, shards: readonly ShardSummary[]): Promise<ItemError[]> {
  const errors: ItemError[] = [];
  for (const summary of shards) {
    if (summary.errors === 0) continue;
    const index = JSON.parse(await fsp.readFile(shardPaths(outDir, summary.shard).index, 'utf8')) as ShardIndex;
    errors.push(...index.errors);
  }
  return errors;
}

export async function tokenizeDataset(options: TokenizeDatasetOptions): Promise<TokenizeDatasetResult> {
  const started = performance.now();
  const shardSize = positiveInt('shardSize', options.shardSize ?? 4096);
  const outDir = path.resolve(options.outDir);
  const tokenizerDir = path.resolve(options.tokenizer);
  const listing = await listItems(options.data, options.listing);
  const tokenizers = new TokenizerCache();
  const probe = await loadDatasetTokenizer(tokenizerDir);
  const identity = { id: probe.id, modality: probe.modality, codebookSizes: [...probe.codebookSizes] };
  probe.dispose();

  const plan: ShardPlan = { tokenizerId: identity.id, datasetFingerprint: listing.fingerprint, shardSize, dtype: tokenDtypeFor(identity.codebookSizes) };
  const key = planKey(plan);
  const manifestFile = path.join(outDir, MANIFEST_FILE);
  const previous = await readManifest(manifestFile);
  if (previous !== undefined && previous.plan !== key) {
    throw new InvalidArgumentError(
      `${outDir} already holds tokens of another tokenizer, dataset or shard size (manifest plan ${previous.plan}, this run ${key}); choose another output directory or delete it`,
    );
  }
  fs.mkdirSync(outDir, { recursive: true });

  const shardCount = Math.ceil(listing.items.length / shardSize);
  const itemsOf = (shard: number): number => Math.min(shardSize, listing.items.length - shard * shardSize);
  const done = new Map<number, ShardSummary>();
  const todo: ShardJob[] = [];
  for (let shard = 0; shard < shardCount; shard++) {
    const summary = await verifyShard(outDir, shard, plan);
    if (summary !== undefined) done.set(shard, summary);
    else todo.push({ outDir, tokenizerDir, shard, plan, items: listing.items.slice(shard * shardSize, (shard + 1) * shardSize) });
  }
  const shardsReused = done.size;

  const manifest = (): TokenDatasetManifest => {
    const shards = [...done.values()].sort((a, b) => a.shard - b.shard);
    return {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      plan: key,
      tokenizer: { ...identity, dir: tokenizerDir },
      data: { paths: listing.data, kinds: listing.kind, items: listing.items.length, fingerprint: listing.fingerprint },
      dtype: plan.dtype,
      shardSize,
      shardCount,
      shards,
      complete: shards.length === shardCount,
      totals: shards.reduce((t, s) => ({ items: t.items + s.items, tokens: t.tokens + s.tokens, errors: t.errors + s.errors }), { items: 0, tokens: 0, errors: 0 }),
    };
  };
  const writeManifest = (): void => writeFileAtomic(manifestFile, `${JSON.stringify(manifest(), null, 2)}\n`, { fsync: false });
  writeManifest();

  let itemsThisRun = 0;
  const itemsReused = [...done.values()].reduce((n, s) => n + s.items + s.errors, 0);
  const report = (): void => {
    if (options.onProgress === undefined) return;
    const seconds = (performance.now() - started) / 1000;
    const itemsDone = itemsReused + itemsThisRun;
    const rate = seconds > 0 ? itemsThisRun / seconds : 0;
    options.onProgress({
      shardsDone: done.size,
      shardCount,
      itemsDone,
      itemsTotal: listing.items.length,
      errors: [...done.values()].reduce((n, s) => n + s.errors, 0),
      itemsPerSecond: rate,
      etaSeconds: rate > 0 ? (listing.items.length - itemsDone) / rate : Infinity,
    });
  };
  const failedShards: { shard: number; message: string }[] = [];
  let shardsRedelivered = 0;
  const finish = (job: ShardJob, outcome: { summary: ShardSummary; redelivered?: boolean } | { error: Error }): void => {
    if ('error' in outcome) failedShards.push({ shard: job.shard, message: outcome.error.message });
    else {
      if (outcome.redelivered === true) shardsRedelivered++;
      done.set(job.shard, outcome.summary);
      itemsThisRun += itemsOf(job.shard);
      writeManifest();
    }
    report();
  };
  report();

  const aborted = (): boolean => options.signal?.aborted === true;
  try {
    if (options.queue !== undefined) {
      await runOnQueue(todo, { url: options.queue, queueName: options.queueName, signal: options.signal }, finish);
    } else {
      const workers = Math.min(options.workers ?? availableParallelism(), todo.length);
      const pool = workers > 0 ? new WorkerPool({ workers, backend: options.backend }) : undefined;
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < todo.length && !aborted()) {
          const job = todo[next++]!;
          try {
            finish(job, { summary: pool === undefined ? await runShardJob(job, tokenizers) : await pool.run(job) });
          } catch (err) {
            finish(job, { error: err instanceof Error ? err : new Error(String(err)) });
          }
        }
      };
      try {
        await Promise.all(Array.from({ length: Math.max(workers, 1) }, lane));
      } finally {
        await pool?.close();
      }
    }
  } finally {
    await tokenizers.dispose();
  }

  const final = manifest();
  writeFileAtomic(path.join(outDir, ERRORS_FILE), `${JSON.stringify(await collectErrors(outDir, final.shards), null, 2)}\n`, { fsync: false });
  writeManifest();
  return {
    manifest: final,
    shardsReused,
    shardsWritten: done.size - shardsReused,
    shardsRedelivered,
    failedShards,
    aborted: aborted(),
    seconds: (performance.now() - started) / 1000,
  };
}
