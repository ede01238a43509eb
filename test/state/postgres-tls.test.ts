/**
 * The store over TCP to a real PostgreSQL that accepts only TLS and SCRAM passwords
 * there: the server certificate is verified against state.postgres.tls.ca (name
 * included), the password comes from passwordFile or PGPASSWORD, and neither a wrong
 * CA nor a wrong password puts the password in a log line or an error.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { isWcaError } from '../../src/errors.js';
import { createPostgresStore } from '../../src/state/postgres/store.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { OpensslWorkbench } from '../helpers/openssl-ca.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { hasTools } from '../helpers/tools.js';
import { postgresConfig } from './postgres-config.js';

describe.runIf(hasTools('initdb', 'pgCtl', 'runuser', 'openssl'))('postgres store over TLS with a password', () => {
  const password = `pw-${crypto.randomBytes(12).toString('hex')}`;
  let db: TestPostgres;
  let dir: string;
  let workbench: OpensslWorkbench;
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }) });

  beforeAll(async () => {
    workbench = await OpensslWorkbench.open();
    const ca = await workbench.root('/CN=Database Test CA');
    const server = await workbench.issue(ca, '/CN=db', 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n');
    const other = await workbench.root('/CN=Some Other CA');
    db = await startTestPostgres({ tls: { certPem: server.certPem, keyPem: server.keyPem, password } });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-pg-tls-'));
    fs.writeFileSync(path.join(dir, 'ca.pem'), ca.certPem);
    fs.writeFileSync(path.join(dir, 'other-ca.pem'), other.certPem);
    fs.writeFileSync(path.join(dir, 'password'), `${password}\n`, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'wrong-password'), 'not-the-password\n', { mode: 0o600 });
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    await workbench?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const tcp = (extra: Record<string, unknown>) =>
    postgresConfig({ host: '127.0.0.1', port: db.port, database: 'postgres', user: db.user }, { statementTimeout: '2s', ...extra });
  const deps = (env: Record<string, string> = {}) => ({ clock: systemClock, logger, env });

  it('connects with the password from passwordFile, or from PGPASSWORD, verifying the server against the configured CA', async () => {
    for (const [config, env] of [
      [tcp({ passwordFile: path.join(dir, 'password'), tls: { ca: path.join(dir, 'ca.pem') } }), {}],
      [tcp({ tls: { ca: path.join(dir, 'ca.pem') } }), { PGPASSWORD: password }],
    ] as const) {
      const store = await createPostgresStore(config, deps(env));
      try {
        expect(store.health()).toEqual({ up: true });
        expect(await store.joinTokens.outstanding()).toBe(0);
      } finally {
        await store.close();
      }
    }
  });

  it.each([
    ['a server certificate from another CA', () => tcp({ passwordFile: path.join(dir, 'password'), tls: { ca: path.join(dir, 'other-ca.pem') } }), /certificate/i],
    ['a wrong password', () => tcp({ passwordFile: path.join(dir, 'wrong-password'), tls: { ca: path.join(dir, 'ca.pem') } }), /password authentication failed/],
  ])('refuses %s: degraded, UNAVAILABLE, and the password is nowhere', async (_name, config, problem) => {
    lines.length = 0;
    const store = await createPostgresStore(config(), deps());
    try {
      const health = store.health();
      expect(health.up).toBe(false);
      expect((health as { problem: string }).problem).toMatch(problem);
      const err = await store.joinTokens.consume('0'.repeat(64), 'node', 0).catch((e: unknown) => e);
      expect(isWcaError(err, 'ERR_STATE_STORE_UNAVAILABLE')).toBe(true);
      for (const text of [...lines, (health as { problem: string }).problem, (err as Error).message]) {
        expect(text).not.toContain(password);
        expect(text).not.toContain('not-the-password');
      }
      expect(lines.join('')).toMatch(problem);
    } finally {
      await store.close();
    }
  });
});
