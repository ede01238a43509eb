import { limits } from '../limits.js';
import type { StateConfig } from './config.js';
import { createMemoryStore } from './memory.js';
import type { StateStore, StateStoreDeps } from './types.js';

/** The configured store; the postgres one (and the `pg` package) is loaded only when configured. */
export async function createStateStore(config: StateConfig, deps: StateStoreDeps): Promise<StateStore> {
  if (config.store === 'memory') return createMemoryStore(deps.clock, { maxActions: limits.stateActionsBatchMax });
  const { createPostgresStore } = await import('./postgres/store.js');
  return createPostgresStore(config.postgres!, deps);
}
