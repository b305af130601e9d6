/**
 * Tokenizer identity: 8 bytes of SHA-256 over the tokenizer's canonical
 * config and its weights. Stored in every container so codes are never
 * decoded by a tokenizer that did not produce them (64 bits make an
 * accidental collision between two tokenizers practically impossible).
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';

/** Bytes of a tokenizer id in the container. */
export const TOKENIZER_ID_BYTES = 8;

/** Canonical JSON: object keys sorted, no whitespace, so equal configs hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

/**
 * The id of a tokenizer from its parts (typically `canonicalJson(config)` and
 * each weight buffer, in a fixed order), as 16 lowercase hex characters.
 * Parts are length-prefixed so ["ab", "c"] and ["a", "bc"] differ.
 */
export function computeTokenizerId(parts: readonly (string | Uint8Array | ArrayBufferView)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    const bytes =
      typeof part === 'string' ? new TextEncoder().encode(part) : part instanceof Uint8Array ? part : new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(bytes.length));
    hash.update(prefix).update(bytes);
  }
  return hash.digest('hex').slice(0, TOKENIZER_ID_BYTES * 2);
}

/** Parses a tokenizer id (16 hex characters) to bytes. */
export function tokenizerIdToBytes(id: string): Uint8Array {
  if (!/^[0-9a-fA-F]{16}$/.test(id)) throw new InvalidArgumentError(`tokenizer id must be ${TOKENIZER_ID_BYTES * 2} hex characters, got ${JSON.stringify(id)}`);
  const out = new Uint8Array(TOKENIZER_ID_BYTES);
  for (let i = 0; i < TOKENIZER_ID_BYTES; i++) out[i] = parseInt(id.slice(2 * i, 2 * i + 2), 16);
  return out;
}
