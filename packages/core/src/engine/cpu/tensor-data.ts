/**
 * Typed access to the storage of tfjs's CPU backend. Our kernels read and
 * write the backend's Float32Arrays in place (no `dataSync` copies), exactly
 * like tfjs-backend-cpu's own kernels do.
 */
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { BackendError } from '../../errors.js';

/** The argument tfjs passes to a kernel function (typed for the CPU backend). */
export interface CpuKernelArgs {
  inputs: NamedTensorInfoMap;
  backend: MathBackendCPU;
  attrs?: NamedAttrMap;
}

/** A kernel function specialised to the CPU backend. */
export type CpuKernelFunc = (args: CpuKernelArgs) => TensorInfo | TensorInfo[];

/** Converts our typed kernel to tfjs's loosely typed `KernelFunc`. */
export function asKernelFunc(fn: CpuKernelFunc): KernelFunc {
  return fn as unknown as KernelFunc;
}

/** Calls a tfjs kernel function (the original `cpu` implementation we delegate to). */
export function callKernel(fn: KernelFunc, args: CpuKernelArgs): TensorInfo {
  const out = fn(args as unknown as Parameters<KernelFunc>[0]);
  if (Array.isArray(out)) throw new BackendError('internal error: a vqkit-cpu kernel delegated to a multi-output tfjs kernel');
  return out;
}

/**
 * The values of a float32 tensor, without copying when its storage is a
 * Float32Array. A float32 tensor may sit on integer storage: tfjs-cpu's `Cast`
 * from bool or int32 shares the source's Uint8Array/Int32Array (a widening
 * needs no conversion), and a cast made on another backend moves here with
 * that storage. Such values are converted into a fresh array (read-only use).
 */
export function float32Values(backend: MathBackendCPU, tensor: TensorInfo): Float32Array {
  const values = backend.data.get(tensor.dataId).values;
  if (values instanceof Float32Array) return values;
  if (values instanceof Uint8Array || values instanceof Int32Array) return Float32Array.from(values);
  // Complex or not-yet-materialised storage: let the backend produce the values.
  const read = backend.readSync(tensor.dataId);
  if (read instanceof Float32Array) return read;
  if (read instanceof Uint8Array || read instanceof Int32Array) return Float32Array.from(read);
  throw new BackendError(`internal error: a ${tensor.dtype} tensor has no numeric storage on the vqkit-cpu backend`);
}

/**
 * The values of an int32 tensor as numbers, without copying. Its storage is an
 * Int32Array, or a Uint8Array when it was cast from bool (shared storage).
 */
export function int32Values(backend: MathBackendCPU, tensor: TensorInfo): Int32Array | Uint8Array {
  const values = backend.data.get(tensor.dataId).values;
  if (values instanceof Int32Array || values instanceof Uint8Array) return values;
  const read = backend.readSync(tensor.dataId);
  if (read instanceof Int32Array || read instanceof Uint8Array) return read;
  if (read instanceof Float32Array) return Int32Array.from(read);
  throw new BackendError(`internal error: a ${tensor.dtype} tensor has no integer storage on the vqkit-cpu backend`);
}

/** True when every tensor is float32 (the only dtype our fast paths handle). */
export function allFloat32(...tensors: (TensorInfo | undefined)[]): boolean {
  for (const t of tensors) if (t !== undefined && t.dtype !== 'float32') return false;
  return true;
}

export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

/**
 * A grow-only scratch buffer. Kernels run synchronously and never re-enter,
 * so one buffer per role is enough and avoids allocating (and zeroing) tens
 * of megabytes per convolution.
 */
export class ScratchBuffer {
  private buffer: Float32Array | undefined;
  /** True when `buffer` is a heap fallback that the allocator must not free. */
  private onHeap = false;
  /** Where the memory comes from; default the JavaScript heap. */
  constructor(private readonly allocator: FloatAllocator = heapAllocator) {}
  /** A view of at least `length` floats; contents are unspecified. */
  get(length: number): Float32Array {
    const current = this.buffer;
    if (!current || current.length < length) {
      if (current && !this.onHeap) this.allocator.free(current);
      this.onHeap = false;
      this.buffer = undefined;
      const size = Math.max(length, Math.ceil((current?.length ?? 0) * 1.5));
      try {
        this.buffer = this.allocator.alloc(size);
      } catch {
        // The allocator's memory is exhausted: heap memory still works (operands are then copied).
        this.buffer = new Float32Array(length);
        this.onHeap = true;
      }
    }
    return this.buffer!.subarray(0, length);
  }
  /** Returns the memory (e.g. when the backend is removed). */
  release(): void {
    if (this.buffer && !this.onHeap) this.allocator.free(this.buffer);
    this.buffer = undefined;
    this.onHeap = false;
  }
}

/**
 * Float memory provider. The WebAssembly GEMM engine offers one whose arrays
 * live inside its memory, so an im2col matrix written there is multiplied
 * without being copied in.
 */
export interface FloatAllocator {
  alloc(length: number): Float32Array;
  free(view: Float32Array): void;
  /** True when `array` views memory this allocator hands out (absent: the arrays own their buffers). */
  owns?(array: ArrayBufferView): boolean;
}

export const heapAllocator: FloatAllocator = { alloc: (length) => new Float32Array(length), free() {} };

/** The engine's own allocator when it has one (duck-typed: `alloc` + `free`), else the heap. */
export function allocatorOf(engine: object): FloatAllocator {
  const candidate = engine as Partial<FloatAllocator>;
  if (typeof candidate.alloc === 'function' && typeof candidate.free === 'function' && typeof candidate.owns === 'function') {
    return {
      alloc: (length) => candidate.alloc!.call(engine, length),
      free: (view) => candidate.free!.call(engine, view),
      owns: (array) => candidate.owns!.call(engine, array),
    };
  }
  return heapAllocator;
}

/** Storage a backend can hand kernels for their outputs (see `PooledCpuBackend`). */
export interface OutputAllocator {
  /** A float32 array of `length` elements with unspecified contents; the kernel must write every element. */
  allocFloat32(length: number): Float32Array;
}

/** An output array for a kernel: pooled when the backend pools, else fresh (zeroed) heap memory. */
export function allocOutput(backend: MathBackendCPU, length: number): Float32Array {
  const pooled = (backend as unknown as Partial<OutputAllocator>).allocFloat32;
  return pooled ? pooled.call(backend, length) : new Float32Array(length);
}
