/**
 * Issue #8 item 3: the trust domain's own ID and the server's SDS identity are
 * never handed to a workload, whichever door is used to ask for them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin, type AdminClient } from '../../src/admin/client.js';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { systemClock } from '../../src/clock.js';
import { isWcaError, type WcaError } from '../../src/errors.js';
import { InsecureDevAuthenticator, spiffeIdForNodeId } from '../../src/identity/insecure-dev.js';
import { JoinTokenAuthenticator } from '../../src/identity/join-token/authenticator.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { rulePolicyWithBuiltins } from '../../src/identity/policy/builtin.js';
import { ruleSchema } from '../../src/identity/policy/config.js';
import type { Caller } from '../../src/identity/types.js';
import { sdsServerSpiffeId } from '../../src/spiffe/reserved.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { startHarness, trustDomain, type Harness } from '../sds/harness.js';
import { decodeSecret, secretTypeUrl, XdsStream } from '../sds/envoy-client.js';

const TD_ID = `spiffe://${trustDomain}`;
const SERVER_ID = sdsServerSpiffeId(trustDomain);
const reserved = [
  { name: 'the trust domain ID', id: TD_ID, reason: 'trust-domain-id' },
  { name: "the server's SDS identity", id: SERVER_ID, reason: 'sds-server' },
];

const thrown = (f: () => unknown): WcaError => {
  try {
    f();
  } catch (err) {
    if (isWcaError(err)) return err;
    throw err;
  }
  throw new Error('expected a refusal');
};

describe('join tokens', () => {
  let dir: string;
  let admin: AdminServer;
  let client: AdminClient;
  const store = new JoinTokenStore(trustDomain, systemClock, { maxTtlSeconds: 3600 });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'wca-reserved-'));
    admin = await startAdminServer({ joinTokens: store, logger: silentLogger(), listen: { kind: 'unix', path: path.join(dir, 'admin.sock') } });
    client = connectAdmin(admin.path);
  });
  afterAll(async () => {
    client.close();
    await admin.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each(reserved)('CreateJoinToken over the admin socket refuses $name, and no token exists afterwards', async ({ id }) => {
    const err = await client.createJoinToken({ spiffe_id: id, dns_names: [], ttl_seconds: 600 }).catch((e: unknown) => e);
    expect(isWcaError(err, 'ERR_SPIFFE_ID_RESERVED')).toBe(true);
    expect(await store.outstanding()).toBe(0);
  });

  it.each(reserved)('the store refuses $name with a typed reason', async ({ id, reason }) => {
    const err = (await store.create({ spiffeId: id, ttlSeconds: 600 }).catch((e: unknown) => e)) as WcaError;
    expect(err.code).toBe('ERR_SPIFFE_ID_RESERVED');
    expect(err.details.reason).toBe(reason);
  });

  it('still mints tokens for workload IDs next to the reserved one', async () => {
    const created = await client.createJoinToken({ spiffe_id: `${SERVER_ID}-replica`, dns_names: [], ttl_seconds: 600 });
    expect(created.spiffe_id).toBe(`${SERVER_ID}-replica`);
    expect(await store.outstanding()).toBe(1);
  });
});

describe('policy', () => {
  const jwtRule = ruleSchema.parse({ name: 'careless', match: { authenticator: 'jwt' }, spiffeId: 'spiffe://{{trustDomain}}/workload-ca/{{serviceAccount}}' });
  const policy = rulePolicyWithBuiltins(trustDomain, [jwtRule], 3600);
  const bound = (authenticator: string, id: string): Caller => ({ authenticator, subject: id, instance: id, claims: {}, boundSpiffeId: id });

  it.each(reserved.flatMap((r) => ['join-token', 'mtls', 'unix', 'insecure-dev'].map((authenticator) => ({ ...r, authenticator }))))(
    'refuses $name to a caller bound to it by $authenticator',
    ({ id, reason, authenticator }) => {
      const err = thrown(() => policy.decide(bound(authenticator, id)));
      expect(err.code).toBe('ERR_SPIFFE_ID_RESERVED');
      expect(err.details.reason).toBe(reason);
      expect(err.grpcStatus).toBe(grpc.status.PERMISSION_DENIED);
    },
  );

  it('refuses a configured rule that renders the server identity from a claim', () => {
    const err = thrown(() => policy.decide({ authenticator: 'jwt', subject: 'sa', instance: 'pod-1', claims: { serviceAccount: 'sds' } }));
    expect(err.code).toBe('ERR_SPIFFE_ID_RESERVED');
    expect(policy.decide({ authenticator: 'jwt', subject: 'sa', instance: 'pod-1', claims: { serviceAccount: 'agent' } }).spiffeId).toBe(`${TD_ID}/workload-ca/agent`);
  });
});

describe('insecure-dev', () => {
  it.each([
    { nodeId: TD_ID, reason: 'trust-domain-id' },
    { nodeId: SERVER_ID, reason: 'sds-server' },
    { nodeId: 'workload-ca/sds', reason: 'sds-server' },
    { nodeId: '/workload-ca/sds', reason: 'sds-server' },
  ])('node.id $nodeId is refused with reason $reason', ({ nodeId, reason }) => {
    const err = thrown(() => spiffeIdForNodeId(nodeId, trustDomain));
    expect(err.code).toBe('ERR_SPIFFE_ID_RESERVED');
    expect(err.details.reason).toBe(reason);
  });

  describe('over a real SDS stream', () => {
    let h: Harness;
    const store = new JoinTokenStore(trustDomain, systemClock, { maxTtlSeconds: 3600 });
    beforeAll(async () => {
      h = await startHarness({
        authenticators: (listen) => [
          new JoinTokenAuthenticator(store),
          new InsecureDevAuthenticator({ profile: 'dev', trustDomain, listen, logger: silentLogger() }),
        ],
      });
    });
    afterAll(() => h.close());

    /** The stream's final status, or "hung" when none arrives in time (generous: the box is shared). */
    const statusWithin = (stream: XdsStream, ms: number) =>
      Promise.race([stream.status, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), ms).unref())]);

    it.each([
      { kind: 'sotw', nodeId: TD_ID },
      { kind: 'sotw', nodeId: 'workload-ca/sds' },
      { kind: 'delta', nodeId: TD_ID },
      { kind: 'delta', nodeId: SERVER_ID },
    ] as const)('$kind stream with node.id $nodeId ends PERMISSION_DENIED at once, and the next caller is served', async ({ kind, nodeId }) => {
      const client = h.client();
      const node = { id: nodeId, cluster: 'c' };
      const stream = kind === 'sotw' ? XdsStream.sotw(client) : XdsStream.delta(client);
      stream.send(
        kind === 'sotw'
          ? { node, resource_names: ['default'], type_url: secretTypeUrl }
          : { node, resource_names_subscribe: ['default'], type_url: secretTypeUrl },
      );
      const status = await statusWithin(stream, 10_000);
      expect(status).not.toBe('hung');
      expect(status).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      expect((status as { details: string }).details).toMatch(/never issued to a workload/);

      const good = XdsStream.sotw(client);
      good.send({ node: { id: 'ns/shop/sa/cart', cluster: 'c' }, resource_names: ['default'], type_url: secretTypeUrl });
      const secret = decodeSecret((await good.next()).resources[0]);
      expect(secret.certificateChain).toBeDefined();
      good.cancel();
      expect(await store.outstanding()).toBe(0);
    });
  });
});
