import { mkdtemp, rm } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { AuditLog } from '../../src/audit/log.js';
import { registerAuthorityCommand } from '../../src/cli/commands/authority.js';
import { registerRotateCommand } from '../../src/cli/commands/rotate.js';
import { registerBundleCommand } from '../../src/cli/commands/bundle.js';
import { registerAuditCommand } from '../../src/cli/commands/audit.js';
import { systemClock } from '../../src/clock.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import type { Authority } from '../../src/ca/authority.js';
import { exitCodeOf, ExitCode, WcaError } from '../../src/errors.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { ConvergenceTracker } from '../../src/sds/convergence.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { decodeSecret, envoyNode, secretTypeUrl, XdsStream } from '../sds/envoy-client.js';
import { startHarness, type Harness } from '../sds/harness.js';

let dir: string;
let admin: AdminServer;
let h: Harness;
let authority: Authority;
let audit: AuditLog;
const convergence = new ConvergenceTracker({ clock: systemClock });
const subscribers: { stream: XdsStream; nodeId: string; certs: X509Certificate[]; nack: boolean }[] = [];

/** An Envoy-like subscriber: ACKs every certificate it receives, or NACKs everything after the first. */
function subscribe(nodeId: string, nack = false) {
  const stream = XdsStream.sotw(h.client());
  const sub = { stream, nodeId, certs: [] as X509Certificate[], nack };
  subscribers.push(sub);
  stream.send({ node: envoyNode(nodeId), resource_names: ['default'], type_url: secretTypeUrl });
  void (async () => {
    let first = true;
    let good = '';
    for (;;) {
      const res = await stream.next().catch(() => undefined);
      if (!res) return;
      const chain = decodeSecret(res.resources[0]).certificateChain!;
      sub.certs.push(new X509Certificate(chain.slice(0, chain.indexOf('-----END CERTIFICATE-----') + 25)));
      if (sub.nack && !first) {
        stream.send({ version_info: good, resource_names: ['default'], type_url: secretTypeUrl, response_nonce: res.nonce, error_detail: { code: 3, message: 'rejected by test' } });
      } else {
        good = res.version_info;
        stream.send({ version_info: res.version_info, resource_names: ['default'], type_url: secretTypeUrl, response_nonce: res.nonce });
      }
      first = false;
    }
  })();
  return sub;
}

async function until(check: () => boolean, ms = 15_000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-console-'));
  audit = new AuditLog({ clock: systemClock });
  authority = await createDevAuthority({ audit, signers: 1 });
  h = await startHarness({ authority, convergence, audit });
  const logger = silentLogger();
  admin = await startAdminServer({
    joinTokens: new JoinTokenStore('cluster.local', new FakeClock(), { maxTtlSeconds: 3600 }),
    logger,
    listen: { kind: 'unix', path: path.join(dir, 'admin.sock') },
    audit,
    authority: { authority, convergence, audit, upstream: { name: 'self-signed' }, clock: systemClock, logger },
  });
  for (let i = 0; i < 6; i++) subscribe(`node-${i}`);
  await until(() => convergence.summary(authority.slotLifetimes().active!.id, '').converged === 6);
});
afterAll(async () => {
  for (const s of subscribers) s.stream.cancel();
  await admin?.close();
  await h?.close();
  await authority?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs a console command in-process; returns stdout and the exit code main() would use. */
async function run(...args: string[]) {
  let stdout = '';
  const out = { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: () => true } };
  const program = new Command('workload-ca').exitOverride();
  registerAuthorityCommand(program, out);
  registerRotateCommand(program, out);
  registerBundleCommand(program, out);
  registerAuditCommand(program, out);
  try {
    await program.parseAsync(['node', 'workload-ca', ...args, '--admin-socket', `unix:${admin.path}`]);
    return { stdout, exit: ExitCode.OK as number, code: undefined as string | undefined, reason: undefined as unknown };
  } catch (err) {
    return { stdout, exit: exitCodeOf(err), code: err instanceof WcaError ? err.code : String(err), reason: err instanceof WcaError ? err.details.reason : undefined };
  }
}

const activeId = () => authority.slotLifetimes().active!.id;

describe('workload-ca authority / rotate / bundle / audit against a running CA with real SDS subscribers', () => {
  it('authority show: a table for people and JSON for scripts, with ACKed counts per authority', async () => {
    const t = await run('authority', 'show');
    expect(t.exit).toBe(0);
    expect(t.stdout).toMatch(/^ID\s+STATE\s+NOT AFTER\s+SENT\s+ACKED\s+NACKED\s+SINCE\s+REASON\n/);
    expect(t.stdout).toMatch(new RegExp(`^${activeId()}\\s+active\\s+\\S+\\s+0\\s+6\\s+0\\s`, 'm'));
    expect(t.stdout).toContain('subscribers: 6, on the active authority (acked): 6 (100%)');
    const j = JSON.parse((await run('authority', 'show', '-o', 'json')).stdout);
    expect(j).toMatchObject({ subscribers: 6, converged: 6, authorities: [{ id: activeId(), state: 'active', subscribers: { sent: 0, acked: 6, nacked: 0 } }] });
  });

  it.each([
    ['taint the active authority', () => ['authority', 'taint', activeId(), '--reason', 'x'], ExitCode.REFUSED, 'ERR_AUTHORITY_TRANSITION', 'is-active'],
    ['revoke the active authority', () => ['authority', 'revoke', activeId(), '--reason', 'x', '--force'], ExitCode.REFUSED, 'ERR_AUTHORITY_TRANSITION', 'is-active'],
    ['activate with nothing prepared', () => ['authority', 'activate', activeId()], ExitCode.REFUSED, 'ERR_AUTHORITY_TRANSITION', 'not-prepared'],
    ['activate an unknown authority', () => ['authority', 'activate', 'abcdef'], ExitCode.USAGE, 'ERR_AUTHORITY_NOT_FOUND', undefined],
    ['name an authority that is not hex', () => ['authority', 'taint', 'XYZ', '--reason', 'x'], ExitCode.USAGE, 'ERR_USAGE', undefined],
    ['an unknown output format', () => ['authority', 'show', '-o', 'yaml'], ExitCode.USAGE, 'ERR_USAGE', undefined],
    ['rotate without --emergency', () => ['rotate', '--reason', 'x'], ExitCode.USAGE, 'ERR_USAGE', undefined],
    ['a bundle format that does not exist', () => ['bundle', 'show', '--format', 'der'], ExitCode.USAGE, 'ERR_USAGE', undefined],
    ['an audit tail that is too long', () => ['audit', 'tail', '-n', '100000'], ExitCode.USAGE, 'ERR_USAGE', undefined],
  ])('refuses to %s with its code and exit code, changing nothing', async (_name, args, exit, code, reason) => {
    const before = authority.authorities();
    const r = await run(...args());
    expect({ exit: r.exit, code: r.code, reason: r.reason }).toEqual({ exit, code, reason });
    expect(authority.authorities()).toEqual(before);
  });

  it('rotate --emergency: every subscriber ends on the new authority, ACKed, before it returns', async () => {
    const previous = activeId();
    const r = await run('rotate', '--emergency', '--reason', 'key exposure drill', '--deadline', '30s', '-o', 'json');
    expect(r.exit).toBe(0);
    const answer = JSON.parse(r.stdout);
    expect(answer).toMatchObject({ tainted_authority_id: previous, subscribers: 6, converged: 6, complete: true });
    expect(answer.new_authority_id).toBe(activeId());
    // Each subscriber's current leaf is signed by the new authority (its AKI is the authority ID).
    for (const s of subscribers) expect(new x509.X509Certificate(s.certs.at(-1)!.raw).getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(answer.new_authority_id);
    const status = JSON.parse((await run('authority', 'show', '-o', 'json')).stdout);
    expect(status.authorities.map((a: { state: string }) => a.state)).toEqual(['active', 'tainted']);
    expect(status.authorities[1].subscribers).toEqual({ sent: 0, acked: 0, nacked: 0 });
    expect(status.converged).toBe(6);

    const table = await run('rotate', '--emergency', '--reason', 'again');
    expect(table.stdout).toMatch(/^NEW AUTHORITY\s+TAINTED\s+SUBSCRIBERS\s+CONVERGED\s+COMPLETE\s+WAITED\n\S+\s+\S+\s+6\s+6\s+yes\s+\d+ms\n$/);
  });

  it('revoke: a tainted authority is revoked and leaves the intermediates; an old one needs --force', async () => {
    const tainted = authority.authorities().filter((a) => a.state === 'tainted');
    const r = await run('authority', 'revoke', tainted[0]!.id, '--reason', 'confirmed compromise', '-o', 'json');
    expect(r.exit).toBe(0);
    expect(JSON.parse(r.stdout).authorities.find((a: { id: string }) => a.id === tainted[0]!.id).state).toBe('revoked');
    expect(authority.intermediatesPem()).toHaveLength(authority.authorities().filter((a) => a.state !== 'revoked').length);
    const noRevoke = await run('authority', 'revoke', tainted[1]!.id, '--reason', 'x', '--upstream');
    expect({ code: noRevoke.code, reason: noRevoke.reason }).toEqual({ code: 'ERR_UPSTREAM_CONFIG', reason: 'no-revoke' });
    expect(authority.authorities().find((a) => a.id === tainted[1]!.id)!.state).toBe('tainted');
  });

  it('taint and revoke wait for the fleet: revoke is refused while a subscriber still ACKs a leaf under it', async () => {
    const nacker = subscribe('node-nack', true);
    await until(() => nacker.certs.length === 1);
    const first = activeId();
    await until(() => convergence.countsFor(first).acked === 7);
    expect((await run('authority', 'prepare', '--reason', 'planned')).exit).toBe(0);
    const prepared = authority.authorities().find((a) => a.state === 'prepared')!.id;
    expect((await run('authority', 'activate', prepared, '--reason', 'planned')).exit).toBe(0);
    await until(() => convergence.countsFor(prepared).acked === 6 && convergence.countsFor(first).nacked === 0 && nacker.certs.length === 2);
    await until(() => convergence.countsFor(prepared).nacked === 1);
    // node-nack rejected the new leaf, so it still uses one under `first`.
    const status = JSON.parse((await run('authority', 'show', '-o', 'json')).stdout);
    expect(status.authorities.find((a: { id: string }) => a.id === prepared).nacked_nodes).toEqual(['node-nack']);
    expect(status.authorities.find((a: { id: string }) => a.id === first).subscribers.acked).toBe(1);
    expect((await run('authority', 'taint', first, '--reason', 'drill')).exit).toBe(0);
    const refused = await run('authority', 'revoke', first, '--reason', 'drill');
    expect({ code: refused.code, reason: refused.reason, exit: refused.exit }).toEqual({ code: 'ERR_AUTHORITY_TRANSITION', reason: 'still-in-use', exit: ExitCode.REFUSED });
    nacker.stream.cancel();
    await until(() => convergence.holders(first) === 0);
    expect((await run('authority', 'revoke', first, '--reason', 'drill')).exit).toBe(0);
  });

  it('bundle show: a table, PEM, SPIFFE JWKS and JSON', async () => {
    const pem = (await run('bundle', 'show', '--format', 'pem')).stdout;
    expect(pem).toBe(authority.bundle().pem);
    const jwks = JSON.parse((await run('bundle', 'show', '--format', 'spiffe')).stdout);
    const root = new X509Certificate(pem);
    expect(jwks.keys).toEqual([{ use: 'x509-svid', kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String), x5c: [root.raw.toString('base64')] }]);
    const t = (await run('bundle', 'show')).stdout;
    expect(t).toContain(root.fingerprint256);
    expect(t).toMatch(/^trust domain cluster\.local, bundle version [0-9a-f]{16}\nSHA-256 FINGERPRINT\s+SUBJECT\s+NOT AFTER\n/);
    expect(JSON.parse((await run('bundle', 'show', '-o', 'json')).stdout)).toMatchObject({ trust_domain: 'cluster.local', version: authority.bundle().version });
  });

  it('audit tail: transitions and admin calls with their caller, as a table and as JSON', async () => {
    const j = JSON.parse((await run('audit', 'tail', '--type', 'transition', '--type', 'admin', '-n', '1000', '-o', 'json')).stdout) as Record<string, unknown>[];
    expect(j.some((e) => e.type === 'transition' && e.to === 'tainted' && String(e.reason).includes('key exposure drill'))).toBe(true);
    const revoke = j.find((e) => e.type === 'admin' && e.rpc === 'RevokeAuthority' && e.outcome === 'ok');
    expect(revoke).toMatchObject({ caller: expect.stringMatching(/^unix:.*admin\.sock \(owner uid \d+ or root\)$/), detail: { reason: 'confirmed compromise' } });
    expect(j.some((e) => e.type === 'admin' && e.outcome === 'error' && e.code === 'ERR_AUTHORITY_TRANSITION')).toBe(true);
    const t = (await run('audit', 'tail', '-n', '3', '--type', 'issuance')).stdout.split('\n');
    expect(t[0]).toMatch(/^SEQ\s+TIME\s+TYPE\s+EVENT$/);
    expect(t[1]).toMatch(/^\d+\s+\S+Z\s+issuance\s+serial=[0-9A-F]+ spiffeId=spiffe:\/\/cluster\.local\/node-\S+ notAfter=\S+ authorityId=[0-9a-f]+ authenticator=insecure-dev nodeId=node-/);
  });

  it('a command with no server to talk to exits 1 with ERR_ADMIN_UNAVAILABLE', async () => {
    const program = new Command('workload-ca').exitOverride();
    registerAuthorityCommand(program, { stdout: { write: () => true }, stderr: { write: () => true } });
    const err = await program.parseAsync(['node', 'workload-ca', 'authority', 'show', '--admin-socket', 'unix:/nonexistent/wca.sock']).catch((e: unknown) => e);
    expect({ code: (err as WcaError).code, exit: exitCodeOf(err) }).toEqual({ code: 'ERR_ADMIN_UNAVAILABLE', exit: ExitCode.FAILURE });
  });
});
