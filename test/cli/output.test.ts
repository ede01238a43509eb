/**
 * Issue #12 item 2: every command that prints data takes `-o json` (parsed here) and
 * `-o table`, through main() in this process; bad flag values exit 2 naming the flag.
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { AuditLog } from '../../src/audit/log.js';
import type { Authority } from '../../src/ca/authority.js';
import { systemClock } from '../../src/clock.js';
import { parseDurationSeconds } from '../../src/duration.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { EvictionList } from '../../src/identity/evictions.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { ConvergenceTracker } from '../../src/sds/convergence.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { containsPrivateKeyArmour, isPkcs8Pem, splitPem } from '../helpers/pki.js';
import { runMain } from './in-process.js';

let dir: string;
let admin: AdminServer;
let authority: Authority;
let health: http.Server;
let healthAddr: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-output-'));
  const audit = new AuditLog({ clock: systemClock });
  authority = await createDevAuthority({ audit, signers: 1 });
  const logger = silentLogger();
  admin = await startAdminServer({
    joinTokens: new JoinTokenStore('cluster.local', systemClock, { maxTtlSeconds: 7200 }),
    identities: { trustDomain: 'cluster.local', evictions: new EvictionList(systemClock, 3600_000), endStreams: () => 0 },
    logger,
    listen: { kind: 'unix', path: path.join(dir, 'admin.sock') },
    audit,
    authority: { authority, convergence: new ConvergenceTracker({ clock: systemClock }), audit, upstream: { name: 'self-signed' }, clock: systemClock, logger },
  });
  health = http.createServer((_req, res) => res.writeHead(200).end('ready\n'));
  await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
  healthAddr = `127.0.0.1:${(health.address() as { port: number }).port}`;
});
afterAll(async () => {
  health?.closeAllConnections();
  await new Promise((resolve) => health?.close(resolve));
  await admin?.close();
  await authority?.close();
  await rm(dir, { recursive: true, force: true });
});

const socket = () => ['--admin-socket', `unix:${admin.path}`];

/** Each data command: its arguments, what its JSON holds, and the table's header. */
const commands: { name: string; args: () => string[]; json: (j: any) => void; table: RegExp }[] = [
  { name: 'authority show', args: () => ['authority', 'show', ...socket()], json: (j) => expect(j.authorities[0].state).toBe('active'), table: /^ID\s+STATE\s+NOT AFTER/ },
  { name: 'bundle show', args: () => ['bundle', 'show', ...socket()], json: (j) => expect(j.trust_domain).toBe('cluster.local'), table: /SHA-256 FINGERPRINT\s+SUBJECT\s+NOT AFTER/ },
  { name: 'audit tail', args: () => ['audit', 'tail', ...socket()], json: (j) => expect(Array.isArray(j)).toBe(true), table: /^SEQ\s+TIME\s+TYPE\s+EVENT/ },
  {
    name: 'token create',
    args: () => ['token', 'create', '--spiffe-id', 'spiffe://cluster.local/vm/a', '--ttl', '1h30m', ...socket()],
    json: (j) => expect(Date.parse(j.expires_at) - Date.now()).toBeGreaterThan(5300_000),
    table: /^wcajt_\S+\n$/,
  },
  { name: 'identity evict', args: () => ['identity', 'evict', 'spiffe://cluster.local/vm/b', ...socket()], json: (j) => expect(j.spiffe_id).toBe('spiffe://cluster.local/vm/b'), table: /^SPIFFE ID\s+EVICTED AT\s+REFUSED UNTIL\s+STREAMS ENDED\nspiffe:\/\/cluster.local\/vm\/b/ },
  { name: 'upstream check', args: () => ['upstream', 'check'], json: (j) => expect(j).toMatchObject({ plugin: 'self-signed', passed: true, steps: expect.arrayContaining([expect.objectContaining({ step: 'config', status: 'ok' })]) }), table: /^upstream "self-signed" .*\n {2}config +ok .*upstream check passed\n$/s },
  { name: 'version', args: () => ['version'], json: (j) => expect(j.node).toBe(process.version), table: /^workload-ca \S+ \(node v/ },
  { name: 'healthcheck', args: () => ['healthcheck', '--http-listen', healthAddr], json: (j) => expect(j).toMatchObject({ status: 200, ok: true, body: 'ready' }), table: /^GET 127\.0\.0\.1:\d+\/readyz: 200 ready\n$/ },
];

describe('-o json and -o table on every data command (through main())', () => {
  it.each(commands)('$name -o json prints one parseable JSON document', async ({ args, json }) => {
    const r = await runMain(...args(), '-o', 'json');
    expect(r.code).toBe(0);
    json(JSON.parse(r.stdout));
  });

  it.each(commands)('$name -o table prints for people', async ({ args, table }) => {
    const r = await runMain(...args(), '-o', 'table');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(table);
  });

  it.each(commands)('$name -o yaml is a usage error naming --output', async ({ args }) => {
    const r = await runMain(...args(), '-o', 'yaml');
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe('error: --output: "yaml" is not an output format; use table or json\n');
  });
});

describe('issue: labelled PEM or JSON, so a script can split it', () => {
  const id = ['issue', '--spiffe-id', 'spiffe://cluster.local/ns/a/sa/b', '--ttl', '1h30m'];

  it('--format json gives each part apart, the key PKCS#8, the lifetime 1h30m', async () => {
    for (const flags of [['--format', 'json'], ['-o', 'json']]) {
      const r = await runMain(...id, ...flags);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(splitPem(j.chain_pem)).toHaveLength(2);
      expect(splitPem(j.bundle_pem)).toHaveLength(1);
      expect(isPkcs8Pem(j.private_key_pem)).toBe(true);
      expect(Date.parse(j.not_after) - Date.parse(j.not_before)).toBeGreaterThanOrEqual(5400_000 - 60_000);
    }
  });

  it('the default PEM has a "# chain", "# key" and "# bundle" line above each part', async () => {
    const r = await runMain(...id);
    expect(r.code).toBe(0);
    const parts = r.stdout.split(/^# (chain|key|bundle)\b.*\n/m);
    expect(parts.filter((_, i) => i % 2 === 1)).toEqual(['chain', 'key', 'bundle']);
    expect(splitPem(parts[2]!)).toHaveLength(2);
    expect(isPkcs8Pem(parts[4]!)).toBe(true);
    expect(splitPem(parts[6]!)).toHaveLength(1);
  });

  it('no private key in any error, whatever was wrong', async () => {
    for (const bad of [['--format', 'der'], ['--ttl', '100d'], ['--dns', 'bad..name'], ['--key-type', 'dsa']]) {
      const r = await runMain(...id, ...bad);
      expect(r.code).toBe(2);
      expect(containsPrivateKeyArmour(r.stderr + r.stdout)).toBe(false);
    }
  });
});

describe('bad flag values exit 2 and name the flag, not a config key', () => {
  it.each([
    [['token', 'create', '--spiffe-id', 'spiffe://cluster.local/vm/a', '--ttl', 'abc'], '--ttl: "abc" is not a duration'],
    [['token', 'create', '--spiffe-id', 'spiffe://cluster.local/vm/a', '--ttl', '1.5s'], '--ttl: "1.5s" must be whole seconds'],
    [['rotate', '--emergency', '--reason', 'x', '--deadline', '1h'], '--deadline: "1h" must be from 1s to 10m'],
    [['healthcheck', '--timeout', 'soon'], '--timeout: "soon" is not a duration'],
    [['upstream', 'check', '--ttl', '30m1h'], '--ttl: "30m1h" is not a duration'],
    [['issue', '--spiffe-id', 'spiffe://cluster.local/x', '--format', 'der'], '--format: "der" is not an issue format'],
    [['bundle', 'show', '--format', 'der'], '--format: "der" is not a bundle format'],
    [['audit', 'tail', '-n', '0'], '--lines: "0" must be a whole number'],
    [['serve', '--sds-listen', 'nope'], '--sds-listen: "nope": expected host:port'],
    [['serve', '--log-level', 'loud'], '--log-level: Invalid option'],
    [['healthcheck', '--http-listen', 'nope'], '--http-listen: "nope": expected host:port'],
  ])('%j', async (args, message) => {
    const r = await runMain(...args, ...(['token', 'rotate', 'bundle', 'audit'].includes(args[0]!) ? socket() : []));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: ${message}`);
  });

  it('echoes at most 32 characters of a bad value', async () => {
    const r = await runMain('version', '-o', 'x'.repeat(10_000));
    expect(r.code).toBe(2);
    expect(r.stderr.length).toBeLessThan(120);
  });
});

describe('durations read like Go and the config file: 1h30m', () => {
  it.each([
    ['1h30m', 5400],
    ['2m30s', 150],
    ['1d12h', 129600],
    ['1.5h', 5400],
    ['500ms', 0.5],
    ['90', 90],
    [' 15m ', 900],
  ])('%s = %d s', (text, seconds) => expect(parseDurationSeconds(text)).toBe(seconds));

  it.each(['30m1h', '1h1h', '1h30', 'h', '', '1 h', '-5s', '1e3s'])('%j is refused', (text) => expect(parseDurationSeconds(text)).toBeUndefined());
});
