/**
 * A pool of worker threads that run shares of a task (GEMM, im2col, col2im) on the engine's
 * shared memory, driven synchronously from the main thread.
 *
 * Protocol (all through Atomics on a small Int32Array control block in the
 * shared memory, so no message passing and no event loop is involved):
 *   main:   write the task descriptor; PENDING := active-1; ACTIVE := active;
 *           GENERATION += 1; notify GENERATION; run share 0;
 *           wait until PENDING == 0.
 *   worker: wait for GENERATION to change; if its index < ACTIVE run its share
 *           and decrement PENDING (notifying when it reaches 0).
 * Sequentially consistent atomics order the plain descriptor writes before the
 * workers' reads, and the workers' writes to C before the main thread's return.
 *
 * The worker body is an inline CommonJS source (`eval: true`), so it runs the
 * same from TypeScript sources under a test runner and from the compiled
 * package, with no extra file to locate or copy.
 */
import { Worker } from 'node:worker_threads';
import { BackendError } from '../../errors.js';
import type { WasmMemory, WasmModule } from './wasm-api.js';

/** Int32 slots of the control block. */
export const CTRL_GENERATION = 0;
export const CTRL_PENDING = 1;
export const CTRL_STOP = 2;
export const CTRL_ERROR = 3;
export const CTRL_ACTIVE = 4;
export const CTRL_SLOTS = 16;

/** Iterations of busy polling before sleeping: thread wake-ups cost tens of microseconds, a short spin often avoids one. */
const SPIN_ITERATIONS = 2000;

const WORKER_SOURCE = `
'use strict';
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, ctrlOffset, descOffset, index, spin } = workerData;
const instance = new WebAssembly.Instance(module, { env: { memory } });
const runTask = instance.exports.runTask;
const ctrl = new Int32Array(memory.buffer, ctrlOffset, ${CTRL_SLOTS});
let seen = Atomics.load(ctrl, ${CTRL_GENERATION});
parentPort.postMessage('ready');
for (;;) {
  let generation = Atomics.load(ctrl, ${CTRL_GENERATION});
  for (let i = 0; i < spin && generation === seen; i++) generation = Atomics.load(ctrl, ${CTRL_GENERATION});
  if (generation === seen) {
    Atomics.wait(ctrl, ${CTRL_GENERATION}, seen);
    continue;
  }
  seen = generation;
  if (Atomics.load(ctrl, ${CTRL_STOP}) !== 0) break;
  if (index < Atomics.load(ctrl, ${CTRL_ACTIVE})) {
    try {
      runTask(descOffset, index);
    } catch (err) {
      Atomics.store(ctrl, ${CTRL_ERROR}, 1);
      parentPort.postMessage(String(err && err.stack || err));
    }
    if (Atomics.sub(ctrl, ${CTRL_PENDING}, 1) === 1) Atomics.notify(ctrl, ${CTRL_PENDING});
  }
}
`;

export interface WorkerPoolOptions {
  module: WasmModule;
  memory: WasmMemory;
  /** Byte offset of the control block (CTRL_SLOTS int32s). */
  ctrlOffset: number;
  /** Byte offset of the task descriptor. */
  descOffset: number;
  /** Worker threads to start; thread indices 1..workers (the main thread is 0). */
  workers: number;
}

export class GemmWorkerPool {
  private readonly workers: Worker[] = [];
  private readonly ctrl: Int32Array;
  private lastWorkerError: string | undefined;
  private disposed = false;

  private constructor(ctrl: Int32Array) {
    this.ctrl = ctrl;
  }

  /** Starts the workers and resolves once each has instantiated the module. */
  static async start(options: WorkerPoolOptions): Promise<GemmWorkerPool> {
    const ctrl = new Int32Array(options.memory.buffer, options.ctrlOffset, CTRL_SLOTS);
    ctrl.fill(0);
    const pool = new GemmWorkerPool(ctrl);
    const ready: Promise<void>[] = [];
    for (let index = 1; index <= options.workers; index++) {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: {
          module: options.module,
          memory: options.memory,
          ctrlOffset: options.ctrlOffset,
          descOffset: options.descOffset,
          index,
          spin: SPIN_ITERATIONS,
        },
      });
      pool.workers.push(worker);
      ready.push(
        new Promise<void>((resolve, reject) => {
          const onError = (err: Error) => reject(new BackendError(`GEMM worker thread ${index} failed to start: ${err.message}`, { cause: err }));
          worker.once('error', onError);
          worker.once('message', () => {
            worker.off('error', onError);
            // Later messages are error reports from a failed task.
            worker.on('message', (message: unknown) => {
              pool.lastWorkerError = String(message);
            });
            // The pool must never keep a process alive on its own. Unref only
            // now: attaching message listeners re-references the worker's port.
            worker.unref();
            resolve();
          });
        }),
      );
    }
    try {
      await Promise.all(ready);
    } catch (err) {
      pool.dispose();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Runs a task on `active` threads (main thread included): wakes workers
   * 1..active-1, runs `ownShare` here, then blocks until they are done.
   */
  run(active: number, ownShare: () => void): void {
    if (this.disposed) throw new BackendError('the GEMM engine was disposed');
    const ctrl = this.ctrl;
    const helpers = Math.min(active, this.workers.length + 1) - 1;
    Atomics.store(ctrl, CTRL_ERROR, 0);
    Atomics.store(ctrl, CTRL_PENDING, helpers);
    Atomics.store(ctrl, CTRL_ACTIVE, helpers + 1);
    Atomics.add(ctrl, CTRL_GENERATION, 1);
    Atomics.notify(ctrl, CTRL_GENERATION);
    let ownError: unknown;
    try {
      ownShare();
    } catch (err) {
      ownError = err;
    }
    // Always wait, even after an error here: workers are still writing into shared memory.
    let pending = Atomics.load(ctrl, CTRL_PENDING);
    for (let i = 0; i < SPIN_ITERATIONS && pending !== 0; i++) pending = Atomics.load(ctrl, CTRL_PENDING);
    while (pending !== 0) {
      Atomics.wait(ctrl, CTRL_PENDING, pending);
      pending = Atomics.load(ctrl, CTRL_PENDING);
    }
    if (ownError !== undefined) throw new BackendError('the WebAssembly GEMM kernel failed', { cause: ownError });
    if (Atomics.load(ctrl, CTRL_ERROR) !== 0) {
      // The worker's own report arrives asynchronously (the event loop is blocked here), so show the previous one if any.
      throw new BackendError(`a GEMM worker thread failed${this.lastWorkerError ? ` (last report: ${this.lastWorkerError})` : ''}`);
    }
  }

  /** Stops and terminates the workers. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.ctrl, CTRL_STOP, 1);
    Atomics.add(this.ctrl, CTRL_GENERATION, 1);
    Atomics.notify(this.ctrl, CTRL_GENERATION);
    for (const worker of this.workers) void worker.terminate();
  }
}
