import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { systemClock } from '../../src/clock.js';
import { MtlsAuthenticator } from '../../src/identity/mtls.js';
import type { Authority } from '../../src/ca/authority.js';
import { ServingState } from '../../src/telemetry/serving-state.js';
import { limits } from '../../src/limits.js';
import type { Readiness } from '../../src/telemetry/readiness.js';
import { sdsServiceName } from '../../src/sds/protos.js';
import { HealthBudget } from '../../src/sds/health.js';
import { envoyNode, secretTypeUrl, XdsStream } from './envoy-client.js';
import { startHarness, trustDomain, type Harness } from './harness.js';
import { healthClient } from '../helpers/health-client.js';

/**
 * grpc.health.v1 on the SDS listener (issue #11 item 5), with a real grpc-js client
 * that sends no credential, over every transport the SDS listener has.
 */

let authority: Authority;
beforeAll(async () => {
  authority = await createDevAuthority({ trustDomain, signers: 1 });
});
afterAll(() => authority.close());

/** A serving state whose intermediate readiness the test sets, with the SDS listener as its only listener. */
async function start(transport: 'plaintext' | 'tls' | 'mtls') {
  let intermediate: Readiness = { state: 'ready' };
  const serving = new ServingState(() => intermediate, ['sds']);
  // Only client-SVID authentication, and the clients below present none: SDS refuses them, so whatever answers did not authenticate.
  const mtlsOnly = () => [new MtlsAuthenticator({ trustDomain, clock: systemClock, intermediates: () => authority.intermediatesPem() })];
  const h: Harness = await startHarness({ authority, transport, health: serving, authenticators: mtlsOnly });
  serving.attach('sds', () => h.server.accepting());
  const credentials =
    transport === 'plaintext'
      ? grpc.credentials.createInsecure()
      : grpc.credentials.createSsl(Buffer.from(authority.bundle().pem), null, null, {
          checkServerIdentity: (_host, peer) => (peer.subjectaltname === `URI:spiffe://${trustDomain}/workload-ca/sds` ? undefined : new Error('unexpected server')),
        });
  return { h, serving, credentials, setIntermediate: (r: Readiness) => (intermediate = r) };
}

describe.each(['plaintext', 'tls', 'mtls'] as const)('grpc.health.v1 over %s, without credentials', (transport) => {
  it('Check answers SERVING for "" and the SDS service while SDS itself refuses the same caller', async () => {
    const { h, credentials } = await start(transport);
    const health = healthClient(h.server.address, credentials);
    try {
      expect(await health.check('')).toBe('SERVING');
      expect(await health.check(sdsServiceName)).toBe('SERVING');
      const sds = XdsStream.sotw(h.client(credentials));
      sds.send({ node: envoyNode('ns/x/sa/y'), type_url: secretTypeUrl, resource_names: ['default'] });
      expect((await sds.status).code).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      health.close();
      await h.close();
    }
  });
});

describe('grpc.health.v1 semantics', () => {
  it('Check: NOT_SERVING when the intermediate is not ready, NOT_FOUND for an unknown service', async () => {
    const { h, credentials, setIntermediate } = await start('plaintext');
    const health = healthClient(h.server.address, credentials);
    try {
      setIntermediate({ state: 'degraded', reason: 'rotation overdue' });
      expect(await health.check()).toBe('SERVING');
      setIntermediate({ state: 'not-ready', reason: 'no active intermediate' });
      expect(await health.check()).toBe('NOT_SERVING');
      await expect(health.check('some.Other')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    } finally {
      health.close();
      await h.close();
    }
  });

  it('a request that does not decode gets INVALID_ARGUMENT, not INTERNAL, and the server keeps answering', async () => {
    const { h } = await start('plaintext');
    const raw = new grpc.Client(h.server.address, grpc.credentials.createInsecure());
    const health = healthClient(h.server.address);
    try {
      // Field 1 (service, length-delimited) claiming 100 bytes with none following.
      const truncated = Buffer.from([0x0a, 0x64]);
      const outcome = await new Promise<grpc.ServiceError | null>((resolve) =>
        raw.makeUnaryRequest('/grpc.health.v1.Health/Check', (b: Buffer) => b, (b: Buffer) => b, truncated, (err) => resolve(err)),
      );
      expect(outcome?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(await health.check()).toBe('SERVING');
    } finally {
      raw.close();
      health.close();
      await h.close();
    }
  });

  it('Watch: SERVICE_UNKNOWN keeps the stream; drain pushes NOT_SERVING, then close ends every Watch with UNAVAILABLE', async () => {
    const { h, serving, credentials } = await start('plaintext');
    const health = healthClient(h.server.address, credentials);
    try {
      const watch = health.watch(sdsServiceName);
      expect(await watch.first).toBe('SERVING');
      const unknown = health.watch('some.Other');
      expect(await unknown.first).toBe('SERVICE_UNKNOWN');
      serving.drain();
      await expect.poll(() => watch.statuses).toEqual(['SERVING', 'NOT_SERVING']);
      await h.server.close();
      expect((await watch.ended).code).toBe(grpc.status.UNAVAILABLE);
      expect((await unknown.ended).code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      health.close();
      await h.close();
    }
  });

  it(`open health calls are bounded: the ${limits.healthCallsPerAddress + 1}th from one address gets RESOURCE_EXHAUSTED naming the limit; closing one frees a slot`, async () => {
    const { h, credentials } = await start('plaintext');
    const health = healthClient(h.server.address, credentials);
    try {
      const held = Array.from({ length: limits.healthCallsPerAddress }, () => health.watch());
      await Promise.all(held.map((w) => w.first));
      const refused = await health.watch().ended;
      expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(refused.details).toContain('healthCallsPerAddress');
      // Check counts against the same budget.
      await expect(health.check()).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
      held[0]!.cancel();
      await held[0]!.ended;
      await expect.poll(async () => {
        const w = health.watch();
        const outcome = await Promise.race([w.first, w.ended.then((s) => `ended ${s.code}`)]);
        w.cancel();
        return outcome;
      }).toBe('SERVING');
    } finally {
      health.close();
      await h.close();
    }
  });
});

describe('HealthBudget', () => {
  it('refuses past the per-address and the total limit with typed reasons, and a release (once) frees the slot', () => {
    const budget = new HealthBudget(3, 2);
    const a1 = budget.take('a');
    budget.take('a');
    expect(() => budget.take('a')).toThrow(expect.objectContaining({ code: 'ERR_HEALTH_LIMIT', details: expect.objectContaining({ reason: 'calls-per-address' }) }));
    budget.take('b');
    expect(() => budget.take('c')).toThrow(expect.objectContaining({ details: expect.objectContaining({ reason: 'calls' }) }));
    a1();
    a1();
    budget.take('c');
    expect(() => budget.take('d')).toThrow(expect.objectContaining({ details: expect.objectContaining({ reason: 'calls' }) }));
  });
});
