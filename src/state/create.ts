import type { Clock } from '../clock.js';
import { limits } from '../limits.js';
import type { Logger } from '../telemetry/logger.js';
import type { StateConfig } from './config.js';
import { createMemoryStore } from './memory.js';
import type { StateStore, StoreHealth } from './types.js';

export interface StateStoreDeps {
  clock: Clock;
  logger: Logger;
  env: Readonly<Record<string, string | undefined>>;
  onHealth?: (health: StoreHealth) => void;
}

/** The configured store; the postgres one (and the `pg` package) is loaded only when configured. */
export async function createStateStore(config: StateConfig, deps: StateStoreDeps): Promise<StateStore> {
  if (config.store === 'memory') return createMemoryStore(deps.clock, { maxActions: limits.stateActionsBatchMax });
  const { createPostgresStore } = await import('./postgres/store.js');
  return createPostgresStore(config.postgres!, deps);
}
