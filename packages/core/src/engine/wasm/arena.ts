/**
 * A first-fit allocator over one shared WebAssembly memory.
 *
 * Everything the GEMM kernel touches (operands, packing scratch, the task
 * descriptor) must live inside the engine's memory, and the kernel itself has
 * no allocator (it is built with the stub runtime and sees raw pointers), so
 * the host manages the address space here.
 *
 * Growth: a shared memory never detaches its old `SharedArrayBuffer` when it
 * grows — old buffers keep their original length and stay valid — so views
 * handed out earlier remain usable. Only ranges beyond an old buffer's length
 * need a fresh `memory.buffer`, which `view`/`bytes` always take.
 */
import { BackendError, InvalidArgumentError } from '../../errors.js';
import type { WasmMemory } from './wasm-api.js';

const PAGE_BYTES = 65536;
/** Allocation granularity: a cache line, so neighbouring blocks never share one across threads. */
export const ARENA_ALIGN = 64;

interface FreeBlock {
  offset: number;
  size: number;
}

export interface ArenaOptions {
  /** First byte the allocator may hand out (bytes below are reserved by the caller). */
  base: number;
  /** Pages the memory may grow to (default: the memory's own maximum, else 65536 = 4 GiB). */
  maximumPages?: number;
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

export class SharedArena {
  readonly memory: WasmMemory;
  private readonly maximumPages: number;
  /** Sorted by offset, never adjacent (coalesced on free). */
  private readonly freeBlocks: FreeBlock[] = [];
  private readonly allocated = new Map<number, number>();
  /** Every SharedArrayBuffer the memory has exposed, so `owns` recognises views made before a growth. */
  private readonly buffers = new WeakSet<ArrayBufferLike>();

  constructor(memory: WasmMemory, options: ArenaOptions) {
    this.memory = memory;
    this.maximumPages = options.maximumPages ?? 65536;
    const base = alignUp(options.base, ARENA_ALIGN);
    const end = memory.buffer.byteLength;
    if (base > end) throw new InvalidArgumentError(`arena base ${base} is beyond the memory size ${end}`);
    if (end > base) this.freeBlocks.push({ offset: base, size: end - base });
    this.buffers.add(memory.buffer);
  }

  /** The memory's current buffer (recorded so `owns` knows it). */
  buffer(): ArrayBufferLike {
    const buffer = this.memory.buffer;
    this.buffers.add(buffer);
    return buffer;
  }

  /** True when `array` is a view into this memory (of any generation of its buffer). */
  owns(array: ArrayBufferView): boolean {
    return this.buffers.has(array.buffer);
  }

  /** Bytes currently in use. */
  get usedBytes(): number {
    let total = 0;
    for (const size of this.allocated.values()) total += size;
    return total;
  }

  /** Total bytes of the memory. */
  get sizeBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Reserves `byteLength` bytes (64-byte aligned, contents unspecified); returns the byte offset. */
  allocBytes(byteLength: number): number {
    if (!Number.isInteger(byteLength) || byteLength < 0) {
      throw new InvalidArgumentError(`allocation size must be a non-negative integer number of bytes, got ${byteLength}`);
    }
    const size = alignUp(Math.max(byteLength, 1), ARENA_ALIGN);
    let index = this.freeBlocks.findIndex((block) => block.size >= size);
    if (index < 0) index = this.grow(size);
    const block = this.freeBlocks[index]!;
    const offset = block.offset;
    if (block.size === size) this.freeBlocks.splice(index, 1);
    else {
      block.offset += size;
      block.size -= size;
    }
    this.allocated.set(offset, size);
    return offset;
  }

  /** Returns a block obtained from `allocBytes`. */
  freeBytes(offset: number): void {
    const size = this.allocated.get(offset);
    if (size === undefined) throw new InvalidArgumentError(`free: no allocation starts at byte ${offset} of this engine's memory`);
    this.allocated.delete(offset);
    this.insertFree({ offset, size });
  }

  /** A Float32Array view of `length` floats at byte `offset`. */
  floats(offset: number, length: number): Float32Array {
    return new Float32Array(this.buffer(), offset, length);
  }

  private insertFree(block: FreeBlock): void {
    const blocks = this.freeBlocks;
    let index = 0;
    while (index < blocks.length && blocks[index]!.offset < block.offset) index++;
    blocks.splice(index, 0, block);
    // Merge with the successor, then with the predecessor.
    const next = blocks[index + 1];
    if (next && block.offset + block.size === next.offset) {
      block.size += next.size;
      blocks.splice(index + 1, 1);
    }
    const prev = blocks[index - 1];
    if (prev && prev.offset + prev.size === block.offset) {
      prev.size += block.size;
      blocks.splice(index, 1);
    }
  }

  /** Grows the memory so that a free block of `size` bytes exists at its end; returns that block's index. */
  private grow(size: number): number {
    const end = this.memory.buffer.byteLength;
    const last = this.freeBlocks[this.freeBlocks.length - 1];
    const tailFree = last && last.offset + last.size === end ? last.size : 0;
    const neededBytes = size - tailFree;
    const currentPages = end / PAGE_BYTES;
    // Grow geometrically (at least 25 %) so a sequence of growing requests does not grow page by page.
    const pages = Math.max(Math.ceil(neededBytes / PAGE_BYTES), Math.ceil(currentPages / 4));
    const allowed = Math.min(pages, this.maximumPages - currentPages);
    if (allowed < Math.ceil(neededBytes / PAGE_BYTES)) {
      throw new BackendError(
        `the WebAssembly engine memory cannot grow by ${neededBytes} bytes (at ${end} bytes of at most ${this.maximumPages * PAGE_BYTES}); ` +
          'use smaller batches or free engine allocations you no longer need',
      );
    }
    try {
      this.memory.grow(allowed);
    } catch (err) {
      throw new BackendError(`growing the WebAssembly engine memory by ${allowed} pages failed`, { cause: err });
    }
    this.buffer();
    this.insertFree({ offset: end, size: allowed * PAGE_BYTES });
    return this.freeBlocks.length - 1;
  }
}
