#!/usr/bin/env node
// Compiles the AssemblyScript kernels of @vqkit/core into packages/core/wasm/.
//
// Two variants of the GEMM kernel come out of one source:
//   gemm-relaxed.wasm  fused f32x4.relaxed_madd (needs relaxed-SIMD support at run time)
//   gemm-simd.wasm     plain f32x4 mul + add (any engine with SIMD)
// Both import a shared memory (`env.memory`) so worker threads can run on it.
//
// Idempotent: a variant is rebuilt only when an assembly source (or this
// script) is newer than its output. `--force` rebuilds everything.
import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const assemblyDir = path.join(repoRoot, 'packages/core/assembly');
const outDir = path.join(repoRoot, 'packages/core/wasm');
const entry = path.join(assemblyDir, 'gemm.ts');

/** 4 GiB: the wasm32 ceiling; the host chooses the actual maximum when it creates the memory. */
const MAXIMUM_MEMORY_PAGES = 65536;

const COMMON_FLAGS = [
  '-O3',
  '--noAssert',
  '--runtime', 'stub',
  '--importMemory',
  '--sharedMemory',
  '--initialMemory', '1',
  '--maximumMemory', String(MAXIMUM_MEMORY_PAGES),
  '--enable', 'simd',
  '--enable', 'threads',
];

const VARIANTS = [
  { file: 'gemm-relaxed.wasm', flags: ['--enable', 'relaxed-simd'] },
  { file: 'gemm-simd.wasm', flags: [] },
];

async function mtimeOrZero(file) {
  try {
    return (await stat(file)).mtimeMs;
  } catch {
    return 0;
  }
}

async function newestSource() {
  const names = (await readdir(assemblyDir)).filter((name) => name.endsWith('.ts'));
  const times = await Promise.all([...names.map((name) => mtimeOrZero(path.join(assemblyDir, name))), mtimeOrZero(fileURLToPath(import.meta.url))]);
  return Math.max(...times);
}

async function main() {
  const force = process.argv.includes('--force');
  await mkdir(outDir, { recursive: true });
  const sourceTime = await newestSource();
  const stale = [];
  for (const variant of VARIANTS) {
    if (force || (await mtimeOrZero(path.join(outDir, variant.file))) < sourceTime) stale.push(variant);
  }
  if (stale.length === 0) return;
  // Imported lazily: the compiler is only loaded when something needs building.
  const { default: asc } = await import('assemblyscript/asc');
  for (const variant of stale) {
    const outFile = path.join(outDir, variant.file);
    const { error, stderr } = await asc.main([entry, '--outFile', outFile, ...COMMON_FLAGS, ...variant.flags]);
    if (error) {
      process.stderr.write(stderr.toString());
      throw new Error(`build-wasm: compiling ${path.relative(repoRoot, entry)} into ${variant.file} failed: ${error.message}`);
    }
    console.log(`build-wasm: wrote ${path.relative(repoRoot, outFile)}`);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
