import { initEngine, type BackendRequest, type EngineInfo } from '@vqkit/core';

export interface EngineFlags {
  backend?: string;
  threads?: string;
}

/** Starts the compute engine for a command and always says which backend runs. */
export async function startEngine(flags: EngineFlags): Promise<EngineInfo> {
  const info = await initEngine({
    backend: flags.backend as BackendRequest | undefined,
    threads: flags.threads === undefined ? undefined : Number(flags.threads),
  });
  console.error(`vqkit: backend ${info.description}`);
  for (const s of info.skipped) console.error(`vqkit:   skipped ${s.backend}: ${s.reason}`);
  return info;
}
