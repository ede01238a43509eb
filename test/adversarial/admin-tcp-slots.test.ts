/**
 * Issue #10 (admin over TCP lockout): peers without a verified client certificate
 * hold every connection slot of the admin TCP listener and reopen each one that
 * closes, from several addresses. At the cap a new connection evicts the oldest
 * unverified one, so the operator's mTLS call still gets through.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdminTcp } from '../../src/admin/client.js';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { AuditLog } from '../../src/audit/log.js';
import type { Authority } from '../../src/ca/authority.js';
import { systemClock } from '../../src/clock.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { ConvergenceTracker } from '../../src/sds/convergence.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { extensions, OpensslWorkbench, type OpensslCert } from '../helpers/openssl-ca.js';
import { hasTools } from '../helpers/tools.js';

const ALICE = 'spiffe://admin.example/ops/alice';
const PER_ADDRESS = 4;
const MAX = 16;

describe.runIf(hasTools('openssl'))('admin TCP: unauthenticated peers cannot hold every slot', () => {
  let bench: OpensslWorkbench;
  let dir: string;
  let admin: AdminServer;
  let authority: Authority;
  let serverRoot: OpensslCert;
  let alice: OpensslCert;

  beforeAll(async () => {
    bench = await OpensslWorkbench.open();
    dir = await mkdtemp(path.join(os.tmpdir(), 'wca-admin-slots-'));
    serverRoot = await bench.root('/CN=admin server root');
    const serverCert = await bench.issue(
      serverRoot,
      '/CN=workload-ca admin',
      'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n',
    );
    const clientCa = await bench.root('/CN=admin client CA');
    alice = await bench.issue(clientCa, '/CN=alice', extensions.svid(ALICE, { eku: 'clientAuth' }));
    const audit = new AuditLog({ clock: systemClock });
    authority = await createDevAuthority({ audit, signers: 1 });
    const logger = silentLogger();
    admin = await startAdminServer({
      joinTokens: new JoinTokenStore('cluster.local', new FakeClock(), { maxTtlSeconds: 3600 }),
      logger,
      listen: { kind: 'unix', path: path.join(dir, 'admin.sock') },
      audit,
      authority: { authority, convergence: new ConvergenceTracker({ clock: systemClock }), audit, upstream: { name: 'self-signed' }, clock: systemClock, logger },
      tcp: {
        host: '127.0.0.1',
        port: 0,
        certPem: serverCert.certPem,
        keyPem: serverCert.keyPem,
        clientCaPem: clientCa.certPem,
        allow: [ALICE],
        // A handshake timeout far beyond the test: only eviction can free a slot.
        connections: { handshakeTimeoutMs: 60_000, idleTimeoutMs: 60_000, perAddress: PER_ADDRESS, max: MAX },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await admin?.close();
    await authority?.close();
    await bench?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /**
   * PER_ADDRESS connections from each of MAX / PER_ADDRESS loopback addresses other
   * than the operator's, each reopened as soon as it closes: half stay silent after the
   * TCP accept, half complete a TLS handshake without a certificate and then idle.
   */
  function attacker() {
    const [host, port] = [admin.tcpAddress!.split(':')[0]!, Number(admin.tcpAddress!.split(':')[1])];
    let running = true;
    let opened = 0;
    const sockets = new Set<net.Socket>();
    const open = (localAddress: string, withTls: boolean) => {
      if (!running) return;
      opened++;
      const raw = net.connect({ host, port, localAddress });
      const s: net.Socket = withTls ? tls.connect({ socket: raw, rejectUnauthorized: false, ALPNProtocols: ['h2'] }) : raw;
      sockets.add(s);
      s.on('error', () => undefined);
      // Reopened on a later turn, as a remote peer would (not in a tight loop that starves this process).
      s.once('close', () => sockets.delete(s) && setTimeout(() => open(localAddress, withTls), 5));
    };
    for (let a = 0; a < MAX / PER_ADDRESS; a++) for (let i = 0; i < PER_ADDRESS; i++) open(`127.0.0.${a + 2}`, a % 2 === 1);
    return {
      opened: () => opened,
      stop: () => {
        running = false;
        for (const s of sockets) s.destroy();
      },
    };
  }

  it('the operator gets through while every slot is held and reopened', async () => {
    const flood = attacker();
    try {
      // Let the flood fill every slot first.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(flood.opened()).toBeGreaterThanOrEqual(MAX);
      for (let i = 0; i < 3; i++) {
        const client = connectAdminTcp({ address: admin.tcpAddress!, caPem: serverRoot.certPem, certPem: alice.certPem, keyPem: alice.keyPem }, { timeoutMs: 5000 });
        try {
          const status = await client.getAuthorityStatus();
          expect(status.authorities.some((a) => a.state === 'active')).toBe(true);
        } finally {
          client.close();
        }
      }
      // The attackers were evicted to make room, and reopened.
      expect(flood.opened()).toBeGreaterThan(MAX);
    } finally {
      flood.stop();
    }
  }, 30_000);
});
