// Placeholder until the WebAssembly kernels land.
