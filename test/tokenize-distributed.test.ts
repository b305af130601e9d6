/**
 * End-to-end: `vqkit tokenize` killed mid-run and restarted, and a Redis
 * queue with two `vqkit worker` processes, one killed mid-run. Both outputs
 * must be complete and byte-identical to an uninterrupted in-process run.
 * Needs `redis-server` on PATH (Debian redis-server; .ci/run installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '@vqkit/core';
import { readTokenDatasetManifest, tokenizeDataset } from '../packages/tokenize/src/index.js';
import { bundledIdx, repoRoot, saveTinyTokenizer, tempDir } from '../packages/tokenize/src/test-fixtures.js';

const cli = path.join(repoRoot, 'packages/cli/dist/main.js');
const SHARD_SIZE = 100;

function shardBytes(outDir: string): Map<string, Buffer> {
  const dir = path.join(outDir, 'shards');
  return new Map(fs.readdirSync(dir).filter((f) => !f.startsWith('.')).sort().map((f) => [f, fs.readFileSync(path.join(dir, f))]));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function vqkit(args: string[]): ChildProcess {
  return spawn(process.execPath, [cli, '--backend', 'vqkit-cpu', '--threads', '1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Resolves when the child's stderr matches. */
function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before printing ${pattern}:\n${seen}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('tokenize end to end', () => {
  let tokenizerDir: string;
  let reference: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    await initEngine({ backend: 'vqkit-cpu', threads: 1 });
    tokenizerDir = await saveTinyTokenizer(path.join(tempDir('e2e-tok'), 'tokenizer'));
    reference = tempDir('e2e-ref');
    await tokenizeDataset({ tokenizer: tokenizerDir, data: bundledIdx, outDir: reference, shardSize: SHARD_SIZE, workers: 0 });
  });

  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
  });

  it('a killed `vqkit tokenize` resumes from its completed shards and ends identical', async () => {
    const out = tempDir('e2e-killed');
    const args = ['tokenize', '--tokenizer', tokenizerDir, '--data', bundledIdx, '--out', out, '--shard-size', String(SHARD_SIZE), '--workers', '0'];
    const first = vqkit(args);
    children.push(first);
    // Kill as soon as some, but not all, shards are on disk.
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const done = fs.existsSync(path.join(out, 'manifest.json')) ? JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')).shards.length : 0;
        if (done >= 2 || first.exitCode !== null) {
          clearInterval(timer);
          first.kill('SIGKILL');
          resolve();
        }
      }, 20);
    });
    await exited(first);
    const partial = await readTokenDatasetManifest(out);
    expect(partial.complete).toBe(false);

    const second = vqkit(args);
    children.push(second);
    let stdout = '';
    second.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    expect(await exited(second)).toBe(0);
    expect(stdout).toMatch(/complete: 1000 items/);
    expect(stdout).toMatch(new RegExp(`${partial.shards.length} reused`));
    expect(shardBytes(out)).toEqual(shardBytes(reference));
  });

  it('two queue workers, one killed mid-run, produce the complete and exact output', async () => {
    const redisServer = spawnSync('which', ['redis-server']).stdout.toString().trim();
    expect(redisServer, 'redis-server is not installed (apt-get install redis-server)').not.toBe('');
    const port = await freePort();
    const redis = spawn(redisServer, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    children.push(redis);
    const url = `redis://127.0.0.1:${port}`;
    const queueName = `test-${process.pid}-${Date.now()}`;
    const workerArgs = ['worker', '--queue', url, '--queue-name', queueName, '--lock-ms', '1000', '--stalled-ms', '500'];
    const doomed = vqkit(workerArgs);
    const survivor = vqkit(workerArgs);
    children.push(doomed, survivor);
    const out = tempDir('e2e-queue');
    // Give redis a moment to listen; the producer retries its connection meanwhile.
    const producer = tokenizeDataset({ tokenizer: tokenizerDir, data: bundledIdx, outDir: out, shardSize: SHARD_SIZE, queue: url, queueName });
    // Killed the moment it takes a shard, so it dies holding that shard's lock.
    await waitForOutput(doomed, /shard \d+ started/);
    doomed.kill('SIGKILL');
    const result = await producer;
    expect(result.failedShards).toEqual([]);
    expect(result.manifest.complete).toBe(true);
    expect(result.manifest.totals.items).toBe(1000);
    // The killed worker's shard was handed to the survivor once its lock expired.
    expect(result.shardsRedelivered).toBeGreaterThanOrEqual(1);
    expect(shardBytes(out)).toEqual(shardBytes(reference));

    survivor.kill('SIGINT');
    expect(await exited(survivor)).toBe(0);
    redis.kill('SIGTERM');
  });
});
