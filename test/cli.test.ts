import { describe, expect, it } from 'vitest';
import { buildProgram, main } from '../packages/cli/src/main.js';

describe('vqkit CLI', () => {
  it('registers the info command', () => {
    const names = buildProgram().commands.map((c) => c.name());
    expect(names).toContain('info');
  });

  it('rejects an unknown backend with a usage error', async () => {
    const code = await main(['--backend', 'no-such-backend', 'info']);
    expect(code).not.toBe(0);
  });
});
