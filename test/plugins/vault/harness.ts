/**
 * Builds the vault plugin the way the loader does (schema parse, then create),
 * with a capturing logger and an injected clock: against a real OpenBao
 * (openbao.ts) or, for what a real server cannot be made to do, the
 * FakeVaultServer.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import plugin from '../../../plugins/vault/index.js';
import type { VaultConfigInput } from '../../../plugins/vault/config.js';
import type { UpstreamAuthority } from '../../../src/upstream/types.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { capturingLogger, createTestRootCa, testPluginContext, type TestRootCa } from '../../fakes/upstream-ca.js';
import { FakeVaultServer, type FakeVaultOptions } from '../../fakes/vault-server.js';

/** Time as the plugin sees it: a FakeClock, or `realTime` against a real server's own token expiry. */
export type PluginClock = Pick<FakeClock, 'now' | 'schedule'>;

export const realTime: PluginClock = {
  now: () => Date.now(),
  schedule: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

export interface Harness {
  authority: UpstreamAuthority;
  clock: PluginClock;
  /** Everything the plugin logged (through the production logger and its redaction). */
  logText: () => string;
}

export async function createVault(
  config: Omit<VaultConfigInput, 'auth'> & { auth: VaultConfigInput['auth'] },
  env: Record<string, string> = {},
  clock: PluginClock = new FakeClock(Date.now()),
): Promise<Harness> {
  const { logger, text } = capturingLogger();
  const parsed = plugin.configSchema.parse(config);
  const context = testPluginContext({ logger, now: () => clock.now(), schedule: (fn, ms) => clock.schedule(fn, ms), env });
  const authority = await plugin.create(parsed, context);
  return { authority, clock, logText: text };
}

export interface VaultSuite {
  /** The PKI CA (a root and one issuing sub-CA) behind the suite's servers; set before the first test. */
  readonly ca: TestRootCa;
  /** A directory for the files tests write (secrets, TLS material); removed after the suite. */
  readonly dir: string;
  /** A started FakeVaultServer signing with `ca`; stopped after the test. */
  startServer(options?: Partial<FakeVaultOptions>): Promise<FakeVaultServer>;
  /** createVault; the authority is closed after the test (before the servers stop). */
  createVault(...args: Parameters<typeof createVault>): Promise<Harness>;
}

/** Registers a Vault test suite's hooks (call it inside `describe`). */
export function useVaultSuite(): VaultSuite {
  const servers: FakeVaultServer[] = [];
  const harnesses: Harness[] = [];
  let ca: TestRootCa | undefined;
  let dir: string | undefined;
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the Vault suite is used before its beforeAll hook ran');
    return value;
  };

  beforeAll(async () => {
    ca = await createTestRootCa({ subCaLevels: 1, name: 'Vault PKI' });
    dir = await mkdtemp(path.join(tmpdir(), 'wca-vault-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const harness of harnesses.splice(0)) await harness.authority.close();
    for (const server of servers.splice(0)) await server.stop();
  });

  return {
    get ca() {
      return ready(ca);
    },
    get dir() {
      return ready(dir);
    },
    async startServer(options = {}) {
      const server = await new FakeVaultServer({ ca: ready(ca), ...options }).start();
      servers.push(server);
      return server;
    },
    async createVault(...args) {
      const harness = await createVault(...args);
      harnesses.push(harness);
      return harness;
    },
  };
}
