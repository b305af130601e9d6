/**
 * A pool of worker threads that help the calling thread with the tasks
 * (GEMM, im2col, col2im) the engine writes into its shared memory.
 *
 * Protocol (Atomics only — no message passing, no event loop involved, so the
 * engine stays synchronous):
 *   host:   write the task descriptor; DONE := 0; REMAINING := chunks (this
 *           opens the task); GENERATION += 1 and notify the helpers needed;
 *           claim and run chunks itself (wasm `runTask`); then wait until
 *           DONE = chunks.
 *   worker: sleep until GENERATION changes, then run wasm `runTask`, which
 *           claims chunks until none is left (see assembly/gemm.ts).
 * Sequentially consistent atomics order the descriptor writes before any
 * claim and every chunk's writes to C before the host sees DONE = chunks. The
 * host only waits for chunks that were claimed, never for a worker that has
 * not woken up yet, which matters when other processes share the cores.
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
export const CTRL_STOP = 1;
export const CTRL_ERROR = 2;
/** Workers currently blocked in Atomics.wait (not spinning). */
export const CTRL_SLEEPERS = 3;
/** Microseconds a worker polls for the next task before it blocks (read before every wait). */
export const CTRL_SPIN = 4;
export const CTRL_SLOTS = 16;
/** Int32 words of the task descriptor the pool protocol touches (must match assembly/gemm.ts). */
export const DESC_REMAINING_WORD = 19;
export const DESC_DONE_WORD = 21;

/**
 * Microseconds a thread polls before it sleeps. Waking a sleeping thread costs
 * tens of microseconds — more than a small GEMM takes — while GEMMs of a
 * training step usually come back to back, so workers keep polling a little
 * after each task (bounded, to waste little CPU on a shared machine).
 */
export const SPIN_MICROSECONDS = 200;

const WORKER_SOURCE = `
'use strict';
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, ctrlOffset, descOffset, index } = workerData;
const instance = new WebAssembly.Instance(module, { env: { memory } });
const runTask = instance.exports.runTask;
const ctrl = new Int32Array(memory.buffer, ctrlOffset, ${CTRL_SLOTS});
const desc = new Int32Array(memory.buffer, descOffset, 32);
let seen = Atomics.load(ctrl, ${CTRL_GENERATION});
parentPort.postMessage('ready');
for (;;) {
  let generation = Atomics.load(ctrl, ${CTRL_GENERATION});
  const spinUntil = performance.now() + Atomics.load(ctrl, ${CTRL_SPIN}) / 1000;
  while (generation === seen && performance.now() < spinUntil) generation = Atomics.load(ctrl, ${CTRL_GENERATION});
  if (generation === seen) {
    // Counted as asleep before the wait: the host skips notify (and small
    // tasks skip the helpers) only while no worker can be mid-way to sleep
    // on an old generation (the wait re-checks it atomically).
    Atomics.add(ctrl, ${CTRL_SLEEPERS}, 1);
    Atomics.wait(ctrl, ${CTRL_GENERATION}, seen);
    Atomics.sub(ctrl, ${CTRL_SLEEPERS}, 1);
    continue;
  }
  seen = generation;
  if (Atomics.load(ctrl, ${CTRL_STOP}) !== 0) break;
  try {
    runTask(descOffset, index);
  } catch (err) {
    Atomics.store(ctrl, ${CTRL_ERROR}, 1);
    // Count the chunk in progress and every unclaimed one as done, so the host never waits forever.
    Atomics.add(desc, ${DESC_DONE_WORD}, 1);
    while (Atomics.sub(desc, ${DESC_REMAINING_WORD}, 1) > 0) Atomics.add(desc, ${DESC_DONE_WORD}, 1);
    Atomics.notify(desc, ${DESC_DONE_WORD});
    parentPort.postMessage(String((err && err.stack) || err));
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
    ctrl[CTRL_SPIN] = SPIN_MICROSECONDS;
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

  /** Wakes up to `helpers` workers for the task just opened in the descriptor. */
  wake(helpers: number): void {
    if (this.disposed) throw new BackendError('the GEMM engine was disposed');
    Atomics.add(this.ctrl, CTRL_GENERATION, 1);
    // Spinning workers see the new generation by themselves; a futex wake costs tens of microseconds.
    if (Atomics.load(this.ctrl, CTRL_SLEEPERS) > 0) Atomics.notify(this.ctrl, CTRL_GENERATION, Math.min(helpers, this.workers.length));
  }

  /** Microseconds workers poll for the next task before blocking. */
  get spinMicroseconds(): number {
    return Atomics.load(this.ctrl, CTRL_SPIN);
  }

  set spinMicroseconds(value: number) {
    Atomics.store(this.ctrl, CTRL_SPIN, Math.max(0, Math.min(1e6, Math.round(value))));
  }

  /** Workers that are polling for work (awake) rather than blocked. */
  awake(): number {
    return this.workers.length - Atomics.load(this.ctrl, CTRL_SLEEPERS);
  }

  /** Clears the worker-failure flag before a task. */
  resetError(): void {
    Atomics.store(this.ctrl, CTRL_ERROR, 0);
  }

  /** Throws when a worker failed during the last task. */
  checkError(): void {
    if (Atomics.load(this.ctrl, CTRL_ERROR) !== 0) {
      // The worker's own report arrives asynchronously (this thread is busy), so show the previous one if any.
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
