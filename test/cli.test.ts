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

  it('vqkit bench matmul prints GFLOP/s; a bad size is a usage error', async () => {
    const logged: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => void logged.push(args.join(' '));
    try {
      expect(await main(['bench', 'matmul', '--size', '64', '--seconds', '0.05'])).toBe(0);
      expect(await main(['bench', 'matmul', '--size', 'big'])).toBe(2);
    } finally {
      console.log = log;
    }
    expect(logged.join('\n')).toMatch(/matmul 64×64×64 on .*: \d+(\.\d)? GFLOP\/s/);
  });
});
