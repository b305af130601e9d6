/** Test-only: where the shared evaluation data lives (excluded from the build). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Root of the shared data folder: $VQKIT_DATA_DIR, else ../shared/data beside the repo. */
export const dataDir = process.env['VQKIT_DATA_DIR'] ?? path.resolve(repoRoot, '../shared/data');

/** Free Spoken Digit Dataset recordings. */
export const fsddDir = path.join(dataDir, 'audio/fsdd');
