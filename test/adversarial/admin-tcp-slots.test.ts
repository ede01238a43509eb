/**
 * Issue #10 (admin over TCP lockout): peers without a verified client certificate
 * hold every connection slot of the admin TCP listener and reopen each one that
 * closes, from several addresses. At the cap a new connection evicts the oldest
 * unverified one, so the operator's mTLS call still gets through. And a flood of
 * refused calls is audited within a per-address budget, so it cannot push the
 * operator's records out of the audit ring.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdminTcp } from '../../src/admin/client.js';
import type { AdminServer } from '../../src/admin/server.js';
import type { AuditLog } from '../../src/audit/log.js';
import { limits } from '../../src/limits.js';
import { startTcpAdminLab, type TcpAdminLab } from '../helpers/admin-tcp.js';
import { extensions, type OpensslCert } from '../helpers/openssl-ca.js';
import { hasTools } from '../helpers/tools.js';

const ALICE = 'spiffe://admin.example/ops/alice';
const PER_ADDRESS = 4;
const MAX = 16;

describe.runIf(hasTools('openssl'))('admin TCP: unauthenticated peers cannot hold every slot', () => {
  let lab: TcpAdminLab;
  let admin: AdminServer;
  let audit: AuditLog;
  let serverRoot: OpensslCert;
  let alice: OpensslCert;

  beforeAll(async () => {
    // A handshake timeout far beyond the test: only eviction can free a slot.
    lab = await startTcpAdminLab({ allow: [ALICE], connections: { handshakeTimeoutMs: 60_000, idleTimeoutMs: 60_000, perAddress: PER_ADDRESS, max: MAX, keepalive: { intervalMs: 30_000, timeoutMs: 10_000 } } });
    ({ admin, audit, serverRoot } = lab);
    alice = await lab.bench.issue(lab.clientCa, '/CN=alice', extensions.svid(ALICE, { eku: 'clientAuth' }));
  }, 60_000);
  afterAll(async () => {
    await lab?.close();
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

  it('audits a flood of refused calls within a per-address budget, counting the rest into the next line, with the refusal reason', async () => {
    const target = { address: admin.tcpAddress!, caPem: serverRoot.certPem };
    const refused = () => audit.tail({ types: ['admin'], limit: limits.auditTailMax }).filter((e) => e.type === 'admin' && e.rpc === 'PrepareAuthority' && e.outcome === 'error');
    const before = refused().length;
    const FLOOD = 200;
    const client = connectAdminTcp(target, { timeoutMs: 10_000 });
    const started = Date.now();
    try {
      const results = await Promise.allSettled(Array.from({ length: FLOOD }, () => client.prepareAuthority({ reason: 'flood' })));
      // Every call is still refused with its reason; only the audit lines are budgeted.
      expect(results.every((r) => r.status === 'rejected' && (r.reason as { details?: { reason?: string } }).details?.reason === 'no-client-certificate')).toBe(true);
      const seconds = Math.ceil((Date.now() - started) / 1000) + 1;
      const written = refused().length - before;
      expect(written).toBeGreaterThan(0);
      expect(written).toBeLessThanOrEqual(seconds * limits.adminRefusalAuditPerSecond);
      expect(refused().at(-1)).toMatchObject({ caller: expect.stringMatching(/^tls:127\.0\.0\.1:/), code: 'ERR_UNAUTHENTICATED', detail: { refusal: 'no-client-certificate' } });
      // Once the second is over, the next refusal's line says how many were held back.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await client.prepareAuthority({ reason: 'after' }).catch(() => undefined);
      const last = refused().at(-1) as { detail?: { suppressed?: number } };
      const suppressedTotal = refused()
        .slice(before)
        .reduce((n, e) => n + ((e as { detail?: { suppressed?: number } }).detail?.suppressed ?? 0), 0);
      expect(last.detail?.suppressed).toBeGreaterThan(0);
      expect(suppressedTotal + refused().length - before).toBe(FLOOD + 1);
    } finally {
      client.close();
    }
    // The operator's own calls are audited as ever.
    const operator = connectAdminTcp({ ...target, certPem: alice.certPem, keyPem: alice.keyPem }, { timeoutMs: 5000 });
    try {
      await operator.getAuthorityStatus();
    } finally {
      operator.close();
    }
    expect(audit.tail({ types: ['admin'], limit: 1 })[0]).toMatchObject({ rpc: 'GetAuthorityStatus', caller: ALICE, outcome: 'ok' });
  }, 30_000);
});
