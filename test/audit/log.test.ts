import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/log.js';
import { fileAuditSink, stdoutAuditSink } from '../../src/audit/sink.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { isWcaError, WcaError } from '../../src/errors.js';
import { authorizeCaller } from '../../src/sds/caller.js';
import { AuthenticatorChain } from '../../src/identity/chain.js';
import { rulePolicyWithBuiltins } from '../../src/identity/policy/builtin.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { DecisionLog } from '../../src/sds/decision-log.js';

const tick = () => new Promise((r) => setImmediate(r));

function capture() {
  const chunks: string[] = [];
  return { out: { write: (s: string) => chunks.push(s) }, lines: () => chunks.join('').split('\n').filter(Boolean), chunks };
}

describe('AuditLog', () => {
  it('keeps a bounded ring: the latest events, numbered, filterable by type and sequence', () => {
    const log = new AuditLog({ clock: new FakeClock(0), ringSize: 3 });
    for (let i = 0; i < 5; i++) log.record({ type: 'bundle', version: `v${i}`, roots: 1 });
    log.record({ type: 'denial', who: 'x', what: 'y', why: 'z', code: 'ERR_USAGE' });
    expect(log.tail().map((r) => r.seq)).toEqual([4, 5, 6]);
    expect(log.tail({ types: ['bundle'] }).map((r) => r.seq)).toEqual([4, 5]);
    expect(log.tail({ afterSeq: 5 }).map((r) => r.type)).toEqual(['denial']);
    expect(log.tail({ limit: 1 })[0]).toMatchObject({ seq: 6, time: '1970-01-01T00:00:00.000Z' });
  });

  it('writes one JSON line per event to stdout, marked apart from operational logs, batched per event-loop turn', async () => {
    const c = capture();
    const log = new AuditLog({ clock: new FakeClock(0), sink: stdoutAuditSink(c.out) });
    for (let i = 0; i < 100; i++) log.record({ type: 'bundle', version: `v${i}`, roots: 1 });
    await tick();
    expect(c.chunks).toHaveLength(1);
    const lines = c.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(100);
    expect(lines[0]).toEqual({ log: 'audit', type: 'bundle', version: 'v0', roots: 1, seq: 1, time: '1970-01-01T00:00:00.000Z' });
  });

  it('appends to a file created with mode 0600, and refuses a path it cannot open', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wca-audit-'));
    try {
      const file = path.join(dir, 'audit.log');
      const sink = fileAuditSink(file, () => undefined);
      new AuditLog({ clock: new FakeClock(0), sink }).record({ type: 'bundle', version: 'v', roots: 1 });
      await sink.close();
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ log: 'audit', type: 'bundle' });
      expect(() => fileAuditSink(path.join(dir, 'missing', 'audit.log'), () => undefined)).toThrow(
        expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('what the CA and SDS record', () => {
  it('records each issuance (serial, SPIFFE ID, not-after, authority, authenticator, node) and each refusal, never a key', async () => {
    const c = capture();
    const audit = new AuditLog({ clock: new FakeClock(), sink: stdoutAuditSink(c.out) });
    const ca = await createDevAuthority({ signers: 1, audit, maxLeafTtlSeconds: 3600 });
    try {
      const svid = await ca.issue({ spiffeId: 'spiffe://cluster.local/ns/a/sa/b', subject: { authenticator: 'jwt', nodeId: 'node-1' } });
      await expect(ca.issue({ spiffeId: 'spiffe://cluster.local/ns/a/sa/b', ttlSeconds: 99_999 })).rejects.toSatisfy((e) => isWcaError(e, 'ERR_TTL_INVALID'));
      // A key pasted where an ID belongs is named in the denial, never copied.
      await expect(ca.issue({ spiffeId: svid.privateKeyPem })).rejects.toBeInstanceOf(WcaError);
      await tick();
      const issued = audit.tail({ types: ['issuance'] });
      expect(issued).toEqual([
        expect.objectContaining({
          type: 'issuance',
          serial: svid.serial,
          spiffeId: svid.spiffeId,
          notAfter: svid.notAfter.toISOString(),
          authorityId: svid.caId,
          authenticator: 'jwt',
          nodeId: 'node-1',
        }),
      ]);
      expect(audit.tail({ types: ['denial'] })).toEqual([
        expect.objectContaining({ code: 'ERR_TTL_INVALID', what: 'issue spiffe://cluster.local/ns/a/sa/b' }),
        expect.objectContaining({ code: 'ERR_SPIFFE_ID_INVALID', what: 'issue (not a SPIFFE ID)', who: '(not a SPIFFE ID)' }),
      ]);
      expect(audit.tail({ types: ['transition'] })[0]).toMatchObject({ to: 'prepared', authorityId: svid.caId });
      expect(audit.tail({ types: ['bundle'] })).toHaveLength(1);
      const text = c.lines().join('\n');
      expect(text).not.toContain('PRIVATE KEY');
      for (const line of svid.privateKeyPem.split('\n').slice(1, -2)) expect(text).not.toContain(line);
    } finally {
      await ca.close();
    }
  });

  it('records an SDS caller that is refused, with who, what and why', async () => {
    const audit = new AuditLog({ clock: new FakeClock() });
    const refusing = {
      name: 'jwt',
      authenticate: async () => {
        throw new WcaError('ERR_UNAUTHENTICATED', 'token expired');
      },
    };
    const deps = { chain: new AuthenticatorChain([refusing], createMetrics()), policy: rulePolicyWithBuiltins('cluster.local', [], 3600), audit, decisions: new DecisionLog(new FakeClock()) };
    const context = { transport: 'tcp' as const, peerAddress: '10.0.0.9:5555', metadata: new Map() };
    await expect(authorizeCaller(deps, silentLogger(), context, { id: 'node-9', cluster: 'c' })).rejects.toSatisfy((e) => isWcaError(e, 'ERR_UNAUTHENTICATED'));
    expect(audit.tail()).toEqual([
      expect.objectContaining({ type: 'denial', who: '10.0.0.9:5555 node=node-9', what: 'sds stream', why: 'token expired', code: 'ERR_UNAUTHENTICATED' }),
    ]);
  });
});
