import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Authority } from '../../src/ca/authority.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { ServingState } from '../../src/telemetry/serving-state.js';
import type { Readiness } from '../../src/telemetry/readiness.js';
import { startHarness, trustDomain } from '../sds/harness.js';
import { runMain } from './in-process.js';

/** `workload-ca healthcheck --grpc` against a real SDS listener serving grpc.health.v1. */

let authority: Authority;
beforeAll(async () => {
  authority = await createDevAuthority({ trustDomain, signers: 1 });
});
afterAll(() => authority.close());

describe.each(['plaintext', 'tls'] as const)('workload-ca healthcheck --grpc over %s', (transport) => {
  it('exits 0 while SERVING and 1 with the status once not ready', async () => {
    let intermediate: Readiness = { state: 'ready' };
    const serving = new ServingState(() => intermediate, []);
    const h = await startHarness({ authority, transport, health: serving });
    try {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-hc-grpc-'));
      const config = path.join(dir, 'config.yaml');
      fs.writeFileSync(config, `sds: { transport: ${transport} }\nlisten: { sds: "${h.server.address}" }\n`);
      const warnings = vi.spyOn(process, 'emitWarning');
      const ok = await runMain('healthcheck', '--grpc', '-c', config);
      expect(ok).toMatchObject({ code: 0 });
      // No "TLS ServerName is an IP address" deprecation (DEP0123) on the probe's stderr.
      expect(warnings.mock.calls.filter((c) => JSON.stringify(c).includes('DEP0123'))).toEqual([]);
      warnings.mockRestore();
      expect(ok.stdout).toContain(': SERVING');
      intermediate = { state: 'not-ready', reason: 'no active intermediate' };
      const down = await runMain('healthcheck', '--grpc', '-c', config);
      expect(down.code).toBe(1);
      expect(down.stderr).toContain(': NOT_SERVING');
    } finally {
      await h.close();
    }
  });
});

it('healthcheck --grpc exits 1 when nothing listens', async () => {
  const r = await runMain('healthcheck', '--grpc', '--sds-listen', '127.0.0.1:1', '--timeout', '2s');
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('grpc.health.v1 Check');
});
