/**
 * A `MathBackendCPU` that recycles the float32 arrays of disposed tensors.
 *
 * A training step allocates hundreds of megabytes of short-lived activations
 * and gradients; fresh typed arrays cost page faults, zeroing and garbage
 * collection, which at these sizes rivals the arithmetic. The same shapes
 * recur every step, so recycling by exact length removes nearly all of it.
 * With the WebAssembly GEMM engine the pooled arrays live inside its memory,
 * so GEMM operands that are tensors (activations, gradients) are used in
 * place instead of being copied in and out.
 *
 * Safety rules (tensors must never share a recycled array):
 * - only arrays this pool handed out are recycled, and only when the last
 *   tensor holding them is disposed;
 * - an array registered under a second tensor, or a view into pooled memory
 *   (e.g. a contiguous slice), is copied on registration;
 * - values read out of the backend (`dataSync`, `data`, `bufferSync`) are
 *   copies, so user code never holds memory that will be reused.
 */
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { backend_util, DataId, DataType } from '@tensorflow/tfjs-core';
import { heapAllocator, type FloatAllocator, type OutputAllocator } from './tensor-data.js';

export interface Float32PoolOptions {
  /** Where arrays come from; default the JavaScript heap. */
  allocator?: FloatAllocator;
  /** Bytes of idle arrays kept for reuse before older ones are released; default 512 MiB. */
  maxIdleBytes?: number;
}

/** Exact-length free lists over an allocator, with ownership tracking. */
export class Float32Pool {
  private readonly allocator: FloatAllocator;
  private readonly maxIdleBytes: number;
  /** Arrays handed out and not yet recycled. */
  private readonly live = new Set<Float32Array>();
  /** Live arrays currently stored as some tensor's values. */
  private readonly registered = new Set<Float32Array>();
  /** Idle arrays by length, oldest first. */
  private readonly idle = new Map<number, Float32Array[]>();
  private idleBytes = 0;
  /** Counters for diagnostics: arrays handed out, of which newly allocated; arrays recycled and released. */
  readonly stats = { taken: 0, allocated: 0, recycled: 0, released: 0 };
  /** Buffers of heap-allocated pooled arrays (for `sharesMemory` without an allocator `owns`). */
  private readonly heapBuffers = new WeakSet<ArrayBufferLike>();

  constructor(options: Float32PoolOptions = {}) {
    this.allocator = options.allocator ?? heapAllocator;
    this.maxIdleBytes = options.maxIdleBytes ?? 512 * 2 ** 20;
  }

  /** An array of `length` floats with unspecified contents. */
  take(length: number): Float32Array {
    if (length === 0) return new Float32Array(0);
    this.stats.taken++;
    const list = this.idle.get(length);
    let array = list?.pop();
    if (array) {
      this.idleBytes -= length * 4;
    } else {
      try {
        this.stats.allocated++;
        array = this.allocator.alloc(length);
      } catch {
        // The allocator's memory is exhausted: fall back to an unpooled heap array.
        return new Float32Array(length);
      }
      if (!this.allocator.owns) this.heapBuffers.add(array.buffer);
    }
    this.live.add(array);
    return array;
  }

  /** True when `array` views memory that this pool may reuse. */
  sharesMemory(array: ArrayBufferView): boolean {
    return this.allocator.owns ? this.allocator.owns(array) : this.heapBuffers.has(array.buffer);
  }

  /** Called when `values` become a tensor's storage: returns what to store (a copy when sharing would be unsafe). */
  adopt<T>(values: T): T {
    if (!(values instanceof Float32Array)) return values;
    if (this.live.has(values)) {
      if (!this.registered.has(values)) {
        this.registered.add(values);
        return values;
      }
      return values.slice() as T;
    }
    return (this.sharesMemory(values) ? values.slice() : values) as T;
  }

  /** Called when a tensor's storage is released. */
  recycle(values: unknown): void {
    if (!(values instanceof Float32Array) || !this.registered.has(values)) return;
    this.registered.delete(values);
    this.live.delete(values);
    this.stats.recycled++;
    const list = this.idle.get(values.length);
    if (list) list.push(values);
    else this.idle.set(values.length, [values]);
    this.idleBytes += values.length * 4;
    if (this.idleBytes > this.maxIdleBytes) this.trim(this.maxIdleBytes / 2);
  }

  /** Releases idle arrays until at most `targetBytes` remain idle. */
  trim(targetBytes = 0): void {
    for (const [length, list] of this.idle) {
      while (list.length > 0 && this.idleBytes > targetBytes) {
        this.allocator.free(list.shift()!);
        this.stats.released++;
        this.idleBytes -= length * 4;
      }
      if (list.length === 0) this.idle.delete(length);
      if (this.idleBytes <= targetBytes) return;
    }
  }

  /** Bytes of idle arrays held for reuse. */
  get idleByteCount(): number {
    return this.idleBytes;
  }
}

/** tfjs's CPU backend with pooled float32 storage (see the module comment). */
/**
 * MathBackendCPU prints "install our node backend" on its first write in
 * Node. vqkit reports the backend it chose (and why tfjs-node was skipped)
 * itself, and that advice cannot be followed offline, so it is silenced.
 */
export function silenceNodeBanner(backend: MathBackendCPU): void {
  (backend as unknown as { firstUse: boolean }).firstUse = false;
}

export class PooledCpuBackend extends MathBackendCPU implements OutputAllocator {
  readonly pool: Float32Pool;

  constructor(options: Float32PoolOptions = {}) {
    super();
    silenceNodeBanner(this);
    this.pool = new Float32Pool(options);
  }

  allocFloat32(length: number): Float32Array {
    return this.pool.take(length);
  }

  override write(values: backend_util.BackendValues, shape: number[], dtype: DataType): DataId {
    return super.write(this.pool.adopt(values), shape, dtype);
  }

  override move(dataId: DataId, values: backend_util.BackendValues, shape: number[], dtype: DataType, refCount: number): void {
    super.move(dataId, this.pool.adopt(values), shape, dtype, refCount);
  }

  override readSync(dataId: DataId): backend_util.BackendValues {
    const values = super.readSync(dataId);
    return values instanceof Float32Array && this.pool.sharesMemory(values) ? values.slice() : values;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    if (!this.data.has(dataId)) return super.disposeData(dataId, force);
    const values = this.data.get(dataId)!.values;
    const released = super.disposeData(dataId, force);
    if (!this.data.has(dataId)) this.pool.recycle(values);
    return released;
  }

  override dispose(): void {
    super.dispose();
    this.pool.trim(0);
  }
}
