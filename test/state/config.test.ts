import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { stateConfigSchema } from '../../src/state/config.js';
import { createLogger } from '../../src/telemetry/logger.js';

const problems = (input: unknown) => {
  const r = stateConfigSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('state config', () => {
  it('defaults to the memory store, with nothing else to set', () => {
    expect(stateConfigSchema.parse(undefined)).toEqual({ store: 'memory' });
  });

  it('fills in postgres defaults', () => {
    expect(stateConfigSchema.parse({ store: 'postgres', postgres: { host: '/run/postgresql', database: 'wca', user: 'wca' } }).postgres).toEqual({
      host: '/run/postgresql',
      database: 'wca',
      user: 'wca',
      port: 5432,
      statementTimeout: 2,
      poolMax: 10,
      heartbeatInterval: 10,
    });
  });

  it.each([
    ['postgres without its section', { store: 'postgres' }, 'postgres: is required when store is postgres'],
    ['both url and host', { store: 'postgres', postgres: { url: 'postgres://db/wca', host: 'db' } }, 'postgres: set either url or host'],
    ['neither url nor host', { store: 'postgres', postgres: { database: 'wca' } }, 'postgres: set either url or host'],
    ['a URL of another scheme', { store: 'postgres', postgres: { url: 'mysql://db/wca' } }, 'postgres.url: must start with postgres://'],
    ['a client certificate without its key', { store: 'postgres', postgres: { host: 'db', tls: { ca: 'ca.pem', cert: 'c.pem' } } }, 'postgres.tls: cert and key go together'],
    ['a pool above the limit', { store: 'postgres', postgres: { host: 'db', poolMax: 1000 } }, 'postgres.poolMax:'],
    ['a timeout of zero', { store: 'postgres', postgres: { host: 'db', statementTimeout: '0s' } }, 'postgres.statementTimeout:'],
    ['an unknown key', { store: 'postgres', postgres: { host: 'db', pasword: 'x' } }, 'postgres:'],
  ])('refuses %s, naming the field', (_name, input, problem) => {
    expect(problems(input).some((p) => p.startsWith(problem))).toBe(true);
  });

  it('never logs the database URL or the postgres section (a password may be in them)', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }) });
    const state = stateConfigSchema.parse({ store: 'postgres', postgres: { url: 'postgres://wca:s3cret-pw@db/wca' } });
    logger.info({ config: { state } }, 'config');
    logger.info({ state }, 'state');
    logger.info({ connectionString: state.postgres!.url }, 'raw');
    expect(lines).toHaveLength(3);
    expect(lines.join('')).not.toContain('s3cret-pw');
  });
});
