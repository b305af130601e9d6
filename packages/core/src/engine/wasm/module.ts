/**
 * Locating, feature-detecting and compiling the GEMM WebAssembly binaries.
 *
 * `scripts/build-wasm.mjs` writes them to `packages/core/wasm/`. This file
 * lives at `src/engine/wasm/` (tests) or `dist/engine/wasm/` (production):
 * both are three levels below the package root, so one relative URL finds
 * the binaries from either.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { BackendError } from '../../errors.js';
import { wasmApi, type WasmModule } from './wasm-api.js';

/** `relaxed`: fused `f32x4.relaxed_madd`; `simd`: plain f32x4 mul + add. */
export type GemmVariant = 'relaxed' | 'simd';

const FILES: Record<GemmVariant, string> = {
  relaxed: 'gemm-relaxed.wasm',
  simd: 'gemm-simd.wasm',
};

/** Path of a variant's binary. */
export function gemmWasmPath(variant: GemmVariant): string {
  return fileURLToPath(new URL(`../../../wasm/${FILES[variant]}`, import.meta.url));
}

const bytesCache = new Map<GemmVariant, Promise<Uint8Array>>();
const moduleCache = new Map<GemmVariant, Promise<WasmModule>>();

async function readBinary(variant: GemmVariant): Promise<Uint8Array> {
  let pending = bytesCache.get(variant);
  if (!pending) {
    const file = gemmWasmPath(variant);
    pending = readFile(file).then(
      (buffer) => new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength),
      (err: unknown) => {
        bytesCache.delete(variant);
        throw new BackendError(`the WebAssembly GEMM kernel ${file} is missing; build it with \`node scripts/build-wasm.mjs\` (part of \`npm run build\`)`, {
          cause: err,
        });
      },
    );
    bytesCache.set(variant, pending);
  }
  return pending;
}

let relaxedSupport: boolean | undefined;

/**
 * Whether this runtime accepts the relaxed-SIMD binary. Node 20's V8 ships
 * relaxed SIMD behind `--experimental-wasm-relaxed-simd`; NODE_OPTIONS rejects
 * that flag, so it is switched on here, before any relaxed module is compiled.
 * Newer runtimes validate the binary without the flag.
 */
export async function relaxedSimdSupported(): Promise<boolean> {
  if (relaxedSupport !== undefined) return relaxedSupport;
  const bytes = await readBinary('relaxed');
  if (wasmApi.validate(bytes)) return (relaxedSupport = true);
  try {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // An engine without the flag simply lacks the feature.
  }
  relaxedSupport = wasmApi.validate(bytes);
  return relaxedSupport;
}

/** Compiles (once per process) the binary of `variant`; fails with BackendError when it is missing or unsupported. */
export async function compileGemmModule(variant: GemmVariant): Promise<WasmModule> {
  let pending = moduleCache.get(variant);
  if (!pending) {
    pending = (async () => {
      if (variant === 'relaxed' && !(await relaxedSimdSupported())) {
        throw new BackendError('this JavaScript engine does not support WebAssembly relaxed SIMD; use the `simd` variant');
      }
      const bytes = await readBinary(variant);
      try {
        return await wasmApi.compile(bytes);
      } catch (err) {
        throw new BackendError(`compiling ${gemmWasmPath(variant)} failed (does this engine support WebAssembly SIMD and threads?)`, {
          cause: err,
        });
      }
    })();
    pending.catch(() => moduleCache.delete(variant));
    moduleCache.set(variant, pending);
  }
  return pending;
}

/** The best variant this runtime supports. */
export async function bestGemmVariant(): Promise<GemmVariant> {
  return (await relaxedSimdSupported()) ? 'relaxed' : 'simd';
}
