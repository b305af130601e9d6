/**
 * One unit of work — tokenize the items of one shard and write it — and the
 * code that runs it, shared by the in-process runner, the worker threads and
 * the queue workers so that all three write byte-identical shards.
 */
import { InvalidArgumentError } from '@vqkit/core';
import type { DatasetItem } from './items.js';
import { writeShard, type ShardContent, type ShardPlan, type ShardSummary } from './shards.js';
import { loadDatasetTokenizer, type DatasetTokenizer } from './tokenizers.js';

/** Everything a worker needs for a shard; plain JSON so it crosses threads and queues. */
export interface ShardJob {
  outDir: string;
  tokenizerDir: string;
  shard: number;
  plan: ShardPlan;
  items: DatasetItem[];
}

/** Items tokenized per forward pass inside a shard (bounds a worker's memory, not the shard size). */
export const TOKENIZE_BATCH = 256;

/**
 * Loads tokenizers on first use and keeps them for later jobs; refuses a
 * directory whose tokenizer is not the one the job was planned with (a
 * worker on another machine seeing different files must not write shards).
 */
export class TokenizerCache {
  private readonly loaded = new Map<string, Promise<DatasetTokenizer>>();

  async get(dir: string, expectedId: string): Promise<DatasetTokenizer> {
    let tokenizer = this.loaded.get(dir);
    if (tokenizer === undefined) {
      tokenizer = loadDatasetTokenizer(dir);
      this.loaded.set(dir, tokenizer);
      tokenizer.catch(() => this.loaded.delete(dir));
    }
    const ready = await tokenizer;
    if (ready.id !== expectedId) {
      throw new InvalidArgumentError(`tokenizer in ${dir} has id ${ready.id}, but this job was planned with ${expectedId}; every worker must see the same tokenizer files`);
    }
    return ready;
  }

  async dispose(): Promise<void> {
    for (const tokenizer of this.loaded.values()) (await tokenizer.catch(() => undefined))?.dispose();
    this.loaded.clear();
  }
}

/** Tokenizes a shard's items in batches and writes the shard atomically. */
export async function runShardJob(job: ShardJob, tokenizers: TokenizerCache): Promise<ShardSummary> {
  const tokenizer = await tokenizers.get(job.tokenizerDir, job.plan.tokenizerId);
  const results: ShardContent['items'][number][] = [];
  for (let start = 0; start < job.items.length; start += TOKENIZE_BATCH) {
    const batch = job.items.slice(start, start + TOKENIZE_BATCH);
    const tokens = await tokenizer.tokenize(batch);
    batch.forEach((item, i) => results.push({ ...item, result: tokens[i]! }));
  }
  return writeShard(job.outDir, { shard: job.shard, plan: job.plan, items: results });
}
