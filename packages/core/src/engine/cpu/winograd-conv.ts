/**
 * Convolutions by Winograd F(4×4, 3×3) and F(4×4, 2×2) on the WebAssembly
 * engine's transforms (layouts and formulas in `assembly/winograd.ts`):
 *
 *   forward          M[ξ] = V[ξ]·U[ξ],       y  = output transform of M
 *   backprop input   dV[ξ] = dM[ξ]·U[ξ]ᵀ,    dx = input transform's adjoint of dV
 *   backprop filter  dU[ξ] = V[ξ]ᵀ·dM[ξ],    dW = filter transform's adjoint of dU
 *
 * with V = input transform of x, U = filter transform of w and dM = output
 * transform's adjoint of dy: α² (36 or 25) batched GEMMs instead of one
 * im2col GEMM, with 2–4× fewer multiply-adds. 3×3 stride-1 convolutions run
 * directly; 4×4 stride-2 ones as the 2×2 stride-1 convolution of the
 * space-to-depth image.
 *
 * V, U and dM of one tensor are needed by two kernels of a training step
 * (V(x) by the forward and the filter gradient, U(w) by the forward and the
 * input gradient, dM(dy) by both gradients), so they are kept in a
 * `TransformCache` keyed by the tensor's storage id, which tfjs never reuses
 * for other values.
 */
import type { GemmEngine } from '../gemm.js';
import type { ConvGeometry } from './im2col.js';
import { ScratchBuffer, sizeOf, type FloatAllocator } from './tensor-data.js';

/** The engine's Winograd transforms (see `WasmGemmEngine`). */
export interface WinogradOps {
  readonly winogradMaxChannels: number;
  winogradStride(floats: number): number;
  winogradTiles(g: ConvGeometry): number;
  winogradInput(x: Float32Array, g: ConvGeometry, v: Float32Array): void;
  winogradInputAdjoint(dv: Float32Array, g: ConvGeometry, dx: Float32Array): void;
  winogradOutput(m: Float32Array, g: ConvGeometry, channels: number, y: Float32Array): void;
  winogradOutputAdjoint(dy: Float32Array, g: ConvGeometry, channels: number, dm: Float32Array): void;
  winogradFilter(w: Float32Array, inChannels: number, outChannels: number, flip: boolean, u: Float32Array, filterSize: 2 | 3): void;
  winogradFilterAdjoint(du: Float32Array, inChannels: number, outChannels: number, dw: Float32Array, filterSize: 2 | 3): void;
  spaceToDepth(x: Float32Array, g: ConvGeometry, out: Float32Array): void;
  depthToSpace(s2d: Float32Array, g: ConvGeometry, x: Float32Array): void;
}

/** The engine's Winograd transforms when it has them (duck-typed). */
export function winogradOpsOf(engine: GemmEngine): WinogradOps | undefined {
  const candidate = engine as GemmEngine & Partial<WinogradOps>;
  return typeof candidate.winogradInputAdjoint === 'function' && typeof candidate.spaceToDepth === 'function' ? (candidate as GemmEngine & WinogradOps) : undefined;
}

/** Storage ids of a convolution's operands (absent: not cacheable). */
export interface OperandKeys {
  x?: object;
  w?: object;
  dy?: object;
  /** Whether a storage id still belongs to a live tensor: transforms of disposed tensors are dropped. */
  live?: (key: object) => boolean;
}

/**
 * Transformed operands by (storage id, what/geometry tag), least recently
 * used first out. Arrays come from the engine's allocator (so GEMMs read
 * them in place) and are recycled by length once evicted.
 */
export class TransformCache {
  private readonly entries = new Map<object, Map<string, Float32Array>>();
  private readonly idle = new Map<number, Float32Array[]>();
  private bytes = 0;
  private idleBytes = 0;

  constructor(
    private readonly allocator: FloatAllocator,
    /** Bytes of cached arrays (and as many again of idle ones) kept at most. */
    private readonly maxBytes = 192 * 2 ** 20,
    /** Bytes of idle arrays kept for reuse (the same shapes recur every training step). */
    private readonly maxIdleBytes = 96 * 2 ** 20,
  ) {}

  /**
   * The array cached for (`key`, `tag`), or a new one of `length` floats
   * filled by `fill` and cached. Without a key (or when the allocator is
   * exhausted) `fill` writes into `fallback` and nothing is cached.
   */
  get(key: object | undefined, tag: string, length: number, fill: (out: Float32Array) => void, fallback: ScratchBuffer): Float32Array {
    if (key === undefined || length * 4 > this.maxBytes / 4) {
      const out = fallback.get(length);
      fill(out);
      return out;
    }
    const tags = this.entries.get(key);
    const hit = tags?.get(tag);
    if (hit && hit.length === length) {
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, tags!);
      return hit;
    }
    // Arrays larger than a quarter of the budget are never cached, so making
    // room never evicts an array the calling kernel still holds (it has at
    // most two, and the current key is the most recently used).
    this.makeRoom(length * 4);
    let out: Float32Array;
    try {
      out = this.take(length);
    } catch {
      const scratch = fallback.get(length);
      fill(scratch);
      return scratch;
    }
    fill(out);
    // Making room may have dropped this key's other tags.
    const entry = this.entries.get(key) ?? new Map<string, Float32Array>();
    const replaced = entry.get(tag);
    if (replaced) this.release(replaced);
    entry.set(tag, out);
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.bytes += length * 4;
    return out;
  }

  /** Drops the entries of storage ids that `live` says are gone (their arrays become reusable). */
  prune(live: (key: object) => boolean): void {
    for (const [key, tags] of this.entries) {
      if (live(key)) continue;
      for (const array of tags.values()) this.release(array);
      this.entries.delete(key);
    }
  }

  /** Bytes held: cached arrays and idle ones kept for reuse. */
  get heldBytes(): number {
    return this.bytes + this.idleBytes;
  }

  /** Returns every array to the allocator. */
  clear(): void {
    for (const tags of this.entries.values()) for (const array of tags.values()) this.allocator.free(array);
    for (const list of this.idle.values()) for (const array of list) this.allocator.free(array);
    this.entries.clear();
    this.idle.clear();
    this.bytes = 0;
    this.idleBytes = 0;
  }

  private take(length: number): Float32Array {
    const array = this.idle.get(length)?.pop();
    if (array) {
      this.idleBytes -= length * 4;
      return array;
    }
    return this.allocator.alloc(length);
  }

  private release(array: Float32Array): void {
    this.bytes -= array.length * 4;
    if (this.idleBytes + array.length * 4 > this.maxIdleBytes) {
      this.allocator.free(array);
      return;
    }
    const list = this.idle.get(array.length);
    if (list) list.push(array);
    else this.idle.set(array.length, [array]);
    this.idleBytes += array.length * 4;
  }

  private makeRoom(bytes: number): void {
    for (const [key, tags] of this.entries) {
      if (this.bytes + bytes <= this.maxBytes) return;
      for (const array of tags.values()) this.release(array);
      this.entries.delete(key);
    }
  }
}

/** Scratch memory of the Winograd kernels (per backend). */
export class WinogradScratch {
  readonly cache: TransformCache;
  /** Uncached V / dV, M / dM, U / dU, and space-to-depth images and filters. */
  readonly v: ScratchBuffer;
  readonly m: ScratchBuffer;
  readonly u: ScratchBuffer;
  readonly image: ScratchBuffer;
  readonly filter: ScratchBuffer;
  constructor(
    readonly ops: WinogradOps,
    allocator: FloatAllocator,
  ) {
    this.cache = new TransformCache(allocator);
    this.v = new ScratchBuffer(allocator);
    this.m = new ScratchBuffer(allocator);
    this.u = new ScratchBuffer(allocator);
    this.image = new ScratchBuffer(allocator);
    this.filter = new ScratchBuffer(allocator);
  }
  release(): void {
    this.cache.clear();
    for (const buffer of [this.v, this.m, this.u, this.image, this.filter]) buffer.release();
  }
}

/** Transform points α² of F(4×4, r×r) (α = r + 3). */
function winogradPoints(filterSize: number): number {
  return (filterSize + 3) ** 2;
}

/**
 * True when an r×r (r = 3 or 2) stride-1 convolution runs as Winograd
 * F(4×4, r×r): both channel counts are multiples of 4, the padding is at
 * most r − 1, and the 4×4 tiles do not waste so much of the map that the α²
 * products per tile stop paying (at most 60% of im2col's r² per output pixel).
 */
export function useWinograd(ops: WinogradOps, g: ConvGeometry): boolean {
  const r = g.filterHeight;
  if ((r !== 3 && r !== 2) || g.filterWidth !== r || g.strideHeight !== 1 || g.strideWidth !== 1 || g.dilationHeight !== 1 || g.dilationWidth !== 1) return false;
  const { top, left } = g.padInfo;
  if (top < 0 || top > r - 1 || left < 0 || left > r - 1) return false;
  const max = ops.winogradMaxChannels;
  if (g.inChannels % 4 !== 0 || g.outChannels % 4 !== 0 || g.inChannels === 0 || g.outChannels === 0 || g.inChannels > max || g.outChannels > max) return false;
  const tiles = Math.ceil(g.outHeight / 4) * Math.ceil(g.outWidth / 4);
  return tiles > 0 && winogradPoints(r) * tiles <= 0.6 * r * r * g.outHeight * g.outWidth;
}

/**
 * A 4×4 stride-2 convolution is the 2×2 stride-1 one of the space-to-depth
 * image (`spaceToDepthRange` in `assembly/winograd.ts`): true when that runs
 * as Winograd (and has at least 16 input channels, i.e. inC ≥ 4).
 */
export function useSpaceToDepth(ops: WinogradOps, g: ConvGeometry): boolean {
  if (g.filterHeight !== 4 || g.filterWidth !== 4 || g.strideHeight !== 2 || g.strideWidth !== 2) return false;
  if (g.dilationHeight !== 1 || g.dilationWidth !== 1 || g.padInfo.top < 0 || g.padInfo.left < 0 || g.inChannels < 4) return false;
  return useWinograd(ops, spaceToDepthGeometry(g));
}

/** The 2×2, stride-1, unpadded convolution of the space-to-depth image equivalent to a 4×4 stride-2 one. */
function spaceToDepthGeometry(g: ConvGeometry): ConvGeometry {
  return {
    batchSize: g.batchSize,
    inHeight: g.outHeight + 1,
    inWidth: g.outWidth + 1,
    inChannels: 4 * g.inChannels,
    outHeight: g.outHeight,
    outWidth: g.outWidth,
    outChannels: g.outChannels,
    filterHeight: 2,
    filterWidth: 2,
    strideHeight: 1,
    strideWidth: 1,
    dilationHeight: 1,
    dilationWidth: 1,
    padInfo: { top: 0, left: 0 },
  };
}

/** The geometry `spaceToDepth`/`depthToSpace` take: the image (in*) and the space-to-depth image size (out*). */
function spaceToDepthImage(g: ConvGeometry): ConvGeometry {
  return { ...g, outHeight: g.outHeight + 1, outWidth: g.outWidth + 1 };
}

/**
 * Rearranges a 4×4 HWIO filter into the 2×2 filter of the space-to-depth
 * convolution, w'[qy][qx][ry][rx][c][o] = w[2qy + ry][2qx + rx][c][o], or back
 * when `inverse`.
 */
function spaceToDepthFilter(w: Float32Array, inC: number, outC: number, out: Float32Array, inverse: boolean): Float32Array {
  const run = inC * outC;
  for (let fy = 0; fy < 4; fy++) {
    for (let fx = 0; fx < 4; fx++) {
      const original = (fy * 4 + fx) * run;
      const rearranged = ((((fy >> 1) * 2 + (fx >> 1)) * 2 + (fy & 1)) * 2 + (fx & 1)) * run;
      if (inverse) out.set(w.subarray(rearranged, rearranged + run), original);
      else out.set(w.subarray(original, original + run), rearranged);
    }
  }
  return out;
}

/** Cache tag of a transform of a tensor seen through geometry `g` (`prefix` tells what, and how it was derived). */
function tagOf(prefix: string, g: ConvGeometry): string {
  return `${prefix}:${g.batchSize},${g.inHeight},${g.inWidth},${g.inChannels},${g.outHeight},${g.outWidth},${g.outChannels},${g.filterHeight},${g.padInfo.top},${g.padInfo.left}`;
}

/**
 * The operands of the r×r convolution `g` behind a (possibly space-to-depth)
 * convolution: V(x), U(w) and dM(dy), each computed once per tensor.
 */
class Operands {
  readonly r: 2 | 3;
  readonly points: number;
  readonly tiles: number;
  constructor(
    private readonly s: WinogradScratch,
    /** The r×r convolution. */
    readonly g: ConvGeometry,
    /** The original 4×4 stride-2 convolution when `g` is its space-to-depth form. */
    private readonly strided: ConvGeometry | undefined,
    private readonly keys: OperandKeys,
  ) {
    this.r = g.filterHeight as 2 | 3;
    this.points = winogradPoints(this.r);
    this.tiles = s.ops.winogradTiles(g);
    if (keys.live) s.cache.prune(keys.live);
  }

  private get origin(): string {
    const o = this.strided;
    return o ? `s2d${o.padInfo.top},${o.padInfo.left}` : 'direct';
  }

  /** Floats between consecutive points of V (tiles × inC), M (tiles × outC) and U (inC × outC). */
  get strideV(): number {
    return this.s.ops.winogradStride(this.tiles * this.g.inChannels);
  }
  get strideM(): number {
    return this.s.ops.winogradStride(this.tiles * this.g.outChannels);
  }
  get strideU(): number {
    return this.s.ops.winogradStride(this.g.inChannels * this.g.outChannels);
  }

  /** V[α²][tiles][inC] of the input. */
  v(x: Float32Array): Float32Array {
    const { s, g } = this;
    return s.cache.get(this.keys.x, tagOf(`V/${this.origin}`, g), this.points * this.strideV, (v) => {
      let image = x;
      if (this.strided) {
        image = s.image.get(sizeOf([g.batchSize, g.inHeight, g.inWidth, g.inChannels]));
        s.ops.spaceToDepth(x, spaceToDepthImage(this.strided), image);
      }
      s.ops.winogradInput(image, g, v);
    }, s.v);
  }

  /** U[α²][inC][outC] of the filter. */
  u(w: Float32Array): Float32Array {
    const { s, g } = this;
    return s.cache.get(this.keys.w, tagOf(`U/${this.origin}`, g), this.points * this.strideU, (u) => {
      const filter = this.strided ? spaceToDepthFilter(w, this.strided.inChannels, g.outChannels, s.filter.get(w.length), false) : w;
      s.ops.winogradFilter(filter, g.inChannels, g.outChannels, false, u, this.r);
    }, s.u);
  }

  /** dM[α²][tiles][outC] of the output gradient. */
  dm(dy: Float32Array): Float32Array {
    const { s, g } = this;
    return s.cache.get(this.keys.dy, tagOf('dM', g), this.points * this.strideM, (m) => s.ops.winogradOutputAdjoint(dy, g, g.outChannels, m), s.m);
  }
}

function operandsOf(s: WinogradScratch, g: ConvGeometry, keys: OperandKeys): Operands | undefined {
  if (useWinograd(s.ops, g)) return new Operands(s, g, undefined, keys);
  if (useSpaceToDepth(s.ops, g)) return new Operands(s, spaceToDepthGeometry(g), g, keys);
  return undefined;
}

/** y = conv(x, w) when the Winograd path applies (returns false otherwise). */
export function winogradForward(gemm: GemmEngine, s: WinogradScratch, x: Float32Array, w: Float32Array, geometry: ConvGeometry, y: Float32Array, keys: OperandKeys): boolean {
  const op = operandsOf(s, geometry, keys);
  if (!op) return false;
  const { g, tiles, points } = op;
  const v = op.v(x);
  const u = op.u(w);
  const m = s.m.get(points * op.strideM);
  gemm.sgemm({ m: tiles, n: g.outChannels, k: g.inChannels, a: v, b: u, c: m, batch: points, strideA: op.strideV, strideB: op.strideU, strideC: op.strideM });
  s.ops.winogradOutput(m, g, g.outChannels, y);
  return true;
}

/** dx of conv(x, w) when the Winograd path applies (returns false otherwise). */
export function winogradBackpropInput(gemm: GemmEngine, s: WinogradScratch, dy: Float32Array, w: Float32Array, geometry: ConvGeometry, dx: Float32Array, keys: OperandKeys): boolean {
  const op = operandsOf(s, geometry, keys);
  if (!op) return false;
  const { g, tiles, points } = op;
  const dm = op.dm(dy);
  const u = op.u(w);
  const dv = s.v.get(points * op.strideV);
  gemm.sgemm({ m: tiles, n: g.inChannels, k: g.outChannels, a: dm, b: u, c: dv, transB: true, batch: points, strideA: op.strideM, strideB: op.strideU, strideC: op.strideV });
  if (geometry === g) {
    s.ops.winogradInputAdjoint(dv, g, dx);
  } else {
    const image = s.image.get(sizeOf([g.batchSize, g.inHeight, g.inWidth, g.inChannels]));
    s.ops.winogradInputAdjoint(dv, g, image);
    s.ops.depthToSpace(image, spaceToDepthImage(geometry), dx);
  }
  return true;
}

/** dw of conv(x, w) when the Winograd path applies (returns false otherwise). */
export function winogradBackpropFilter(gemm: GemmEngine, s: WinogradScratch, x: Float32Array, dy: Float32Array, geometry: ConvGeometry, dw: Float32Array, keys: OperandKeys): boolean {
  const op = operandsOf(s, geometry, keys);
  if (!op) return false;
  const { g, tiles, points, r } = op;
  const v = op.v(x);
  const dm = op.dm(dy);
  const du = s.u.get(points * op.strideU);
  gemm.sgemm({ m: g.inChannels, n: g.outChannels, k: tiles, a: v, b: dm, c: du, transA: true, batch: points, strideA: op.strideV, strideB: op.strideM, strideC: op.strideU });
  if (geometry === g) {
    s.ops.winogradFilterAdjoint(du, g.inChannels, g.outChannels, dw, r);
  } else {
    const rearranged = s.filter.get(dw.length);
    s.ops.winogradFilterAdjoint(du, g.inChannels, g.outChannels, rearranged, r);
    spaceToDepthFilter(rearranged, geometry.inChannels, g.outChannels, dw, true);
  }
  return true;
}
