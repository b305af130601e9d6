/**
 * The `vqkit-cpu` backend: tfjs-cpu with GEMM-based convolution/matmul
 * kernels and tight element-wise loops. Importing this module installs it as
 * the fast-backend provider used by `initEngine` ('vqkit-cpu' and auto mode).
 *
 * Layout of this directory:
 * - `register.ts`: registers the backend (a copy of tfjs-cpu's kernel table
 *   with `VQKIT_CPU_KERNELS` replaced) on a `PooledCpuBackend`;
 * - `matmul-kernels.ts`, `conv-kernels.ts` (+ `im2col.ts`,
 *   `winograd-conv.ts`): BatchMatMul, _FusedMatMul, Conv2D, FusedConv2D,
 *   Conv2DBackpropInput/Filter on an injected `GemmEngine` (the WebAssembly
 *   engine when it loads, else `referenceGemm`); 3×3 stride-1 and 4×4
 *   stride-2 convolutions by Winograd when the engine has the transforms;
 * - `elementwise-kernels.ts`, `reduce-kernels.ts`: Add/Sub/Multiply/RealDiv/
 *   SquaredDifference, Relu/Step/Square/Sqrt, Transpose, Cast, Fill/ZerosLike/
 *   OnesLike, Sum/Mean, ArgMin, GatherV2, UnsortedSegmentSum fast paths
 *   (other cases delegate to tfjs-cpu);
 * - `epilogue.ts`: in-place bias + activation of the fused kernels;
 * - `pooled-backend.ts`: tensor storage recycled by exact length, inside the
 *   GEMM engine's memory so GEMM operands are used without copies;
 * - `parity-harness.ts`: helpers the parity tests use to compare backends.
 */
import { setFastBackendProvider, type FastBackendProvider } from '../backend.js';
import { referenceGemm, type GemmEngine } from '../gemm.js';
import { registerVqkitCpuBackend } from './register.js';

export { registerVqkitCpuBackend, unregisterVqkitCpuBackend, VQKIT_CPU_KERNELS, type VqkitCpuBackendOptions } from './register.js';

/** The GEMM engine the backend runs on, and why it is not the fast one when it is not. */
export interface LoadedGemm {
  engine: GemmEngine;
  /** Set when the WebAssembly engine could not be used and `referenceGemm` runs instead. */
  fallbackReason?: string;
}

/** Loads the WebAssembly SIMD GEMM engine, falling back to the JavaScript reference with a reason. */
export async function loadGemmEngine(threads: number | undefined): Promise<LoadedGemm> {
  try {
    // Loaded lazily: the engine compiles WebAssembly and starts worker threads, which plain imports of vqkit must not pay for.
    const { createWasmGemmEngine } = await import('../wasm/index.js');
    return { engine: await createWasmGemmEngine(threads === undefined ? {} : { threads }) };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { engine: referenceGemm, fallbackReason: `WebAssembly GEMM engine unavailable (${reason})` };
  }
}

let active: { threads: number | undefined; gemm: LoadedGemm } | undefined;

/** The GEMM engine behind the registered `vqkit-cpu` backend, if any. */
export function vqkitCpuGemm(): LoadedGemm | undefined {
  return active?.gemm;
}

export const vqkitCpuProvider: FastBackendProvider = {
  async register(threads) {
    if (!active || active.threads !== threads) {
      const gemm = await loadGemmEngine(threads);
      registerVqkitCpuBackend({ gemm: gemm.engine });
      active?.gemm.engine.dispose();
      active = { threads, gemm };
    }
    const { engine, fallbackReason } = active.gemm;
    const threadText = `${engine.threads} thread${engine.threads === 1 ? '' : 's'}`;
    const identity = engine.name.includes('thread') ? engine.name : `${engine.name}, ${threadText}`;
    return { description: fallbackReason ? `${identity}; ${fallbackReason}` : identity };
  },
};

setFastBackendProvider(vqkitCpuProvider);
