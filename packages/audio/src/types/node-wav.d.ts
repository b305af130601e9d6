// Minimal typings for node-wav 0.0.x (the package ships none).
declare module 'node-wav' {
  interface DecodedWav {
    sampleRate: number;
    channelData: Float32Array[];
  }
  interface EncodeOptions {
    sampleRate?: number;
    float?: boolean;
    bitDepth?: number;
  }
  /** Samples may be any indexable numeric arrays (node-wav reads them by index). */
  export function decode(buffer: Uint8Array | ArrayBuffer): DecodedWav | undefined;
  export function encode(channelData: ArrayLike<number>[], options: EncodeOptions): Buffer;
}
