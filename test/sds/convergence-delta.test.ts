/**
 * Convergence over Delta xDS (the console's status tests use SotW streams): a
 * subscriber on a DeltaSecrets stream is counted sent vs ACKed under the authority
 * of the leaf it holds, an ACK is an empty request carrying the response nonce, and
 * a NACK (error_detail) is reported with the node, exactly as for SotW.
 */
import { X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as h from '../../src/admin/authority-handler.js';
import { AuditLog } from '../../src/audit/log.js';
import type { Authority } from '../../src/ca/authority.js';
import { systemClock } from '../../src/clock.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { ConvergenceTracker } from '../../src/sds/convergence.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { decodeSecret, envoyNode, secretTypeUrl, XdsStream } from './envoy-client.js';
import { startHarness, type Harness } from './harness.js';

let harness: Harness;
let authority: Authority;
const convergence = new ConvergenceTracker({ clock: systemClock });
const streams: XdsStream[] = [];

/** An Envoy on a Delta stream for `default`: ACKs every response, or NACKs every certificate after the first. */
function deltaSubscriber(nodeId: string, nack = false) {
  const stream = XdsStream.delta(harness.client());
  streams.push(stream);
  const sub = { nodeId, certs: [] as X509Certificate[] };
  stream.send({ node: envoyNode(nodeId), type_url: secretTypeUrl, resource_names_subscribe: ['default'] });
  void (async () => {
    for (;;) {
      const res = await stream.next().catch(() => undefined);
      if (!res) return;
      const chain = decodeSecret(res.resources[0].resource).certificateChain!;
      sub.certs.push(new X509Certificate(chain.slice(0, chain.indexOf('-----END CERTIFICATE-----') + 25)));
      if (nack && sub.certs.length > 1) stream.send({ type_url: secretTypeUrl, response_nonce: res.nonce, error_detail: { code: 3, message: 'rejected by test' } });
      else stream.send({ type_url: secretTypeUrl, response_nonce: res.nonce });
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

const deps = () => ({ authority, convergence, audit: new AuditLog({ clock: systemClock }), upstream: { name: 'self-signed' }, clock: systemClock, logger: silentLogger() });

beforeAll(async () => {
  authority = await createDevAuthority({ signers: 1 });
  harness = await startHarness({ authority, convergence });
});
afterAll(async () => {
  for (const s of streams) s.cancel();
  await harness?.close();
  await authority?.close();
});

describe('convergence status with subscribers on Delta xDS streams', () => {
  it('counts sent vs ACKed per authority, moves the count on rotation, and reports a Delta NACK with its node', async () => {
    const first = authority.slotLifetimes().active!.id;
    const subs = [0, 1, 2].map((i) => deltaSubscriber(`delta-${i}`));
    const nacker = deltaSubscriber('delta-nack', true);
    await until(() => convergence.countsFor(first).acked === 4);
    let status = h.authorityStatus(deps());
    expect(status).toMatchObject({ subscribers: 4, converged: 4 });
    expect(status.authorities.find((a) => a.id === first)!.subscribers).toEqual({ sent: 0, acked: 4, nacked: 0 });

    await harness.rotate();
    const second = authority.slotLifetimes().active!.id;
    expect(second).not.toBe(first);
    await until(() => convergence.countsFor(second).acked === 3 && convergence.countsFor(second).nacked === 1);
    status = h.authorityStatus(deps());
    const bySecond = status.authorities.find((a) => a.id === second)!;
    expect(bySecond.subscribers).toEqual({ sent: 0, acked: 3, nacked: 1 });
    expect(bySecond.nacked_nodes).toEqual(['delta-nack']);
    // The NACKing node still uses its leaf under the first authority, and the status says so.
    expect(status.authorities.find((a) => a.id === first)!.subscribers.acked).toBe(1);
    expect(status).toMatchObject({ subscribers: 4, converged: 3 });
    // Every ACKing subscriber really holds a leaf under the new authority (its AKI is the authority ID).
    for (const s of subs) expect(new x509.X509Certificate(s.certs.at(-1)!.raw).getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(second);
    expect(nacker.certs).toHaveLength(2);
  });
});
