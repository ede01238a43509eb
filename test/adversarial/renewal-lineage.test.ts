/**
 * Red team finding 3: the per-instance cap of 16 node identities was keyed by the
 * presented SVID's key, and every renewal has a new key: one join token bought 16
 * SVIDs, each renewed 16 more, growing 16-fold per level (273 keys in 1.6 s). The
 * instance of an mTLS renewal is now its lineage, which every SVID carries from the
 * first credential on. The real app: join token, then mTLS renewals over SDS.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin } from '../../src/admin/client.js';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { limits } from '../../src/limits.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { pemBlocks } from '../../src/x509/der.js';
import { lineageOf } from '../../src/x509/lineage.js';
import { SdsTestClient, type ClientIdentity } from '../identity/sds-client.js';

const SERVER_ID = 'spiffe://cluster.local/workload-ca/sds';
const VM = 'spiffe://cluster.local/vm/db-1';
const PER_INSTANCE = limits.sdsNodesPerInstanceMax;

let app: App;
let dir: string;
const clients: SdsTestClient[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-lineage-id-'));
  fs.writeFileSync(
    path.join(dir, 'workload-ca.yaml'),
    [
      'profile: dev',
      `listen: { sds: "127.0.0.1:0", http: "127.0.0.1:0", admin: "unix:${dir}/admin.sock" }`,
      'sds: { transport: mtls, authenticators: [mtls, join-token] }',
      '',
    ].join('\n'),
  );
  app = await startApp(loadConfig({ file: path.join(dir, 'workload-ca.yaml'), env: {} }), { logger: silentLogger(), env: {} });
});
afterAll(async () => {
  clients.splice(0).forEach((c) => c.close());
  await app?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function sds(identity?: ClientIdentity): SdsTestClient {
  const client = new SdsTestClient(app.addresses.sds!, app.authority.bundle().pem, SERVER_ID, identity);
  clients.push(client);
  return client;
}

async function joinToken(spiffeId: string): Promise<string> {
  const admin = connectAdmin(`${dir}/admin.sock`);
  try {
    return (await admin.createJoinToken({ spiffe_id: spiffeId, dns_names: [], ttl_seconds: 600 })).token;
  } finally {
    admin.close();
  }
}

const lineageIdOf = (svid: ClientIdentity) => lineageOf(pemBlocks(svid.chainPem)[0]!)!.id!.toString('hex');

async function nodeLimitRefusal(renewal: Promise<unknown>) {
  const err = await renewal.catch((e: unknown) => e);
  expect(err).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, details: expect.stringContaining(`limit ${PER_INSTANCE}`) });
}

describe('chained mTLS renewals share one instance: the lineage', () => {
  it('holds one join token to 16 node identities however its SVIDs renew, and renewals of a node keep its key', async () => {
    const original = await sds().fetch('default', `Bearer ${await joinToken(VM)}`, 'node-0');
    const lineage = lineageIdOf(original);
    expect(lineage).toMatch(/^[0-9a-f]{32}$/);

    // Level 1: the joined SVID renews for 15 more nodes, which fills the lineage's 16.
    const level1: ClientIdentity[] = [];
    for (let i = 1; i < PER_INSTANCE; i++) level1.push(await sds(original).fetch('default', undefined, `node-${i}`));
    for (const svid of level1) expect(lineageIdOf(svid)).toBe(lineage);
    await nodeLimitRefusal(sds(original).fetch('default', undefined, `node-${PER_INSTANCE}`));

    // Level 2: each renewed SVID (a new key) is the same instance, not a fresh allowance of 16.
    for (const svid of level1.slice(0, 3)) await nodeLimitRefusal(sds(svid).fetch('default', undefined, 'level-2'));

    // Renewing a node it already holds is served from the same cache entry: the key the join token bought.
    const again = await sds(level1[0]).fetch('default', undefined, 'node-0');
    expect(again.privateKeyPem).toBe(original.privateKeyPem);
    expect(lineageIdOf(again)).toBe(lineage);

    // Another machine (its own join token) has its own lineage and allowance.
    const other = await sds().fetch('default', `Bearer ${await joinToken(VM)}`, 'node-0');
    expect(lineageIdOf(other)).not.toBe(lineage);
    expect(other.privateKeyPem).not.toBe(original.privateKeyPem);
    expect((await sds(other).fetch('default', undefined, 'node-1')).spiffeIds).toEqual([VM]);
  }, 30_000);
});
