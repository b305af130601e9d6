/** The README's demo command: the demo script runs end to end (a few steps per stage) and writes what it says. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('pnpm demo', () => {
  it('trains, compresses, trains a prior and samples on the bundled data (--quick)', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-demo-'));
    const run = spawnSync(process.execPath, [path.join(root, 'examples/demo.mjs'), '--quick', '--out', out], { encoding: 'utf8', cwd: root });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/engine: (vqkit-cpu|tfjs-node|cpu)/);
    expect(run.stdout).toMatch(/vqkit +\d+\.\d bytes\/image/);
    expect(run.stdout).toMatch(/test \d+\.\d+ bits\/token/);
    for (const file of ['tokenizer/config.json', 'tokenizer/entropy.bin', 'tokenizer/report/reconstructions.png', 'compression.png', 'test-0.vqt', 'prior/config.json', 'samples.png']) {
      expect(fs.existsSync(path.join(out, file)), file).toBe(true);
    }
    fs.rmSync(out, { recursive: true, force: true });
  });
});
