import { stateConfigSchema, type PostgresConfig } from '../../src/state/config.js';

/** A validated `state.postgres` section, defaults filled in, for the given connection. */
export function postgresConfig(connection: Record<string, unknown>, extra: Record<string, unknown> = {}): PostgresConfig {
  return stateConfigSchema.parse({ store: 'postgres', postgres: { ...connection, ...extra } }).postgres!;
}
