#!/usr/bin/env node
import { initEngine } from '@vqkit/core';

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  if (argv[0] === 'info') {
    const info = await initEngine();
    console.log(`backend: ${info.description}`);
    return 0;
  }
  console.error('usage: vqkit info');
  return 2;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then((code) => process.exit(code));
}
