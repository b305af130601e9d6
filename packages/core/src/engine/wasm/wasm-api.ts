/**
 * The slice of the WebAssembly JS API this engine uses, typed locally.
 *
 * The project compiles against `lib: ES2022` + `@types/node`, neither of which
 * declares the `WebAssembly` global (it lives in lib.dom), and pulling the DOM
 * library into a Node package would be wrong. These types are structural, so
 * real WebAssembly objects satisfy them.
 */

/** An opaque compiled module (cloneable to worker threads). */
export interface WasmModule {
  readonly __wasmModule?: never;
}

export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Grows by `pages` 64 KiB pages; returns the previous size in pages. */
  grow(pages: number): number;
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}

export const wasmApi: WasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
