/**
 * Backend resolution. vqkit picks, in order: tfjs-node (native TensorFlow,
 * only when the optional package is installed and loads), vqkit's own fast CPU
 * backend (`vqkit-cpu`: tfjs-cpu with WebAssembly SIMD kernels for the hot
 * ops), and finally tfjs's plain `cpu`. The choice can be forced with the
 * `backend` option or the `VQKIT_BACKEND` environment variable, and the
 * result is always reported so users know what ran.
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { BackendError } from '../errors.js';
import { silenceNodeBanner } from './cpu/pooled-backend.js';

export type BackendName = 'tfjs-node' | 'vqkit-cpu' | 'cpu';
export type BackendRequest = BackendName | 'auto';

export interface EngineOptions {
  /** Which backend to use; default `VQKIT_BACKEND` or `'auto'`. */
  backend?: BackendRequest;
  /** Worker threads for the fast CPU backend; default `VQKIT_THREADS` or all cores. */
  threads?: number;
}

export interface EngineInfo {
  /** The backend that runs (`tfjs-node`, `vqkit-cpu` or `cpu`). */
  backend: BackendName;
  /** The tfjs backend name actually active (`tensorflow` for tfjs-node). */
  tfjsBackend: string;
  /** One line for humans, e.g. `vqkit-cpu (wasm-simd-relaxed, 2 threads)`. */
  description: string;
  /** Why higher-priority backends were skipped (auto mode). */
  skipped: { backend: BackendName; reason: string }[];
}

const BACKENDS: readonly BackendName[] = ['tfjs-node', 'vqkit-cpu', 'cpu'];

let current: EngineInfo | undefined;

/** A hook the fast backend module installs itself through (keeps this file free of its weight). */
export interface FastBackendProvider {
  register(threads: number | undefined): Promise<{ description: string }>;
}
let fastProvider: FastBackendProvider | undefined;
export function setFastBackendProvider(provider: FastBackendProvider): void {
  fastProvider = provider;
}

function parseRequest(value: string | undefined, source: string): BackendRequest {
  if (value === undefined || value === '') return 'auto';
  if (value === 'auto' || (BACKENDS as readonly string[]).includes(value)) return value as BackendRequest;
  throw new BackendError(`${source}: unknown backend '${value}'; use one of auto, ${BACKENDS.join(', ')}`);
}

async function tryBackend(name: BackendName, threads: number | undefined): Promise<EngineInfo> {
  switch (name) {
    case 'tfjs-node': {
      try {
        // Loading the package registers the 'tensorflow' backend with the tfjs-core instance it shares with us.
        const require = createRequire(import.meta.url);
        require('@tensorflow/tfjs-node');
      } catch (err) {
        throw new BackendError('@tensorflow/tfjs-node is not installed or its native library failed to load', { cause: err });
      }
      if (!(await tf.setBackend('tensorflow'))) throw new BackendError('tfjs-node loaded but the tensorflow backend failed to initialise');
      return { backend: name, tfjsBackend: 'tensorflow', description: 'tfjs-node (native TensorFlow)', skipped: [] };
    }
    case 'vqkit-cpu': {
      if (!fastProvider) throw new BackendError('the vqkit-cpu backend is not available in this build');
      const { description } = await fastProvider.register(threads);
      if (!(await tf.setBackend('vqkit-cpu'))) throw new BackendError('the vqkit-cpu backend failed to initialise');
      return { backend: name, tfjsBackend: 'vqkit-cpu', description: `vqkit-cpu (${description})`, skipped: [] };
    }
    case 'cpu': {
      if (!(await tf.setBackend('cpu'))) throw new BackendError("tfjs's cpu backend failed to initialise");
      silenceNodeBanner(tf.backend() as MathBackendCPU);
      return { backend: name, tfjsBackend: 'cpu', description: 'cpu (tfjs pure JavaScript, slow)', skipped: [] };
    }
  }
}

/**
 * Selects and activates a backend. Safe to call repeatedly: the same request
 * returns the active engine without re-initialising.
 */
export async function initEngine(options: EngineOptions = {}): Promise<EngineInfo> {
  const request = options.backend ?? parseRequest(process.env.VQKIT_BACKEND, 'VQKIT_BACKEND');
  parseRequest(request, 'backend option');
  const envThreads = process.env.VQKIT_THREADS ? Number(process.env.VQKIT_THREADS) : undefined;
  const threads = options.threads ?? envThreads;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
    throw new BackendError(`threads must be a positive integer, got ${threads}`);
  }
  if (current && (request === 'auto' || request === current.backend) && tf.getBackend() === current.tfjsBackend) {
    return current;
  }
  if (request !== 'auto') {
    current = await tryBackend(request, threads);
    return current;
  }
  const skipped: EngineInfo['skipped'] = [];
  for (const name of BACKENDS) {
    try {
      current = { ...(await tryBackend(name, threads)), skipped };
      return current;
    } catch (err) {
      skipped.push({ backend: name, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  throw new BackendError(`no backend could be initialised: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`);
}

/** The active engine, or undefined before `initEngine`. */
export function engineInfo(): EngineInfo | undefined {
  return current;
}
