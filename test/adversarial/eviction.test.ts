/**
 * Issue #8, item 4: a stolen SVID must not be a permanent identity. Eviction (admin
 * call and CLI) refuses renewal of every current certificate of an identity and
 * ends its streams; a renewal lineage has a maximum age. The real app end to end:
 * join token → SVID → mTLS renewals over SDS, admin socket, CLI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin } from '../../src/admin/client.js';
import { startApp, type App } from '../../src/app.js';
import { registerIdentityCommand } from '../../src/cli/commands/identity.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { pemBlocks } from '../../src/x509/der.js';
import { lineageStartOf } from '../../src/x509/lineage.js';
import { SdsTestClient, type ClientIdentity } from '../identity/sds-client.js';
import { connect, decodeSecret, envoyNode, secretTypeUrl, XdsStream } from '../sds/envoy-client.js';

const SERVER_ID = 'spiffe://cluster.local/workload-ca/sds';
const VM = 'spiffe://cluster.local/vm/db-1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startVmApp(dir: string, identityYaml = ''): Promise<App> {
  fs.writeFileSync(
    path.join(dir, 'workload-ca.yaml'),
    [
      'profile: dev',
      `listen: { sds: "127.0.0.1:0", http: "127.0.0.1:0", admin: "unix:${dir}/admin.sock" }`,
      'sds: { transport: mtls, authenticators: [mtls, join-token, insecure-dev] }',
      identityYaml,
      '',
    ].join('\n'),
  );
  return startApp(loadConfig({ file: path.join(dir, 'workload-ca.yaml'), env: {} }), { logger: silentLogger(), env: {} });
}

function harness(app: () => App, dir: () => string) {
  const clients: { close(): void }[] = [];
  const sds = (identity?: ClientIdentity) => {
    const client = new SdsTestClient(app().addresses.sds!, app().authority.bundle().pem, SERVER_ID, identity);
    clients.push(client);
    return client;
  };
  /** A StreamSecrets stream presenting `identity`, after its first response. */
  const stream = async (identity: ClientIdentity, nodeId: string) => {
    const credentials = grpc.credentials.createSsl(Buffer.from(app().authority.bundle().pem), Buffer.from(identity.privateKeyPem), Buffer.from(identity.chainPem), {
      checkServerIdentity: () => undefined,
    });
    const client = connect(app().addresses.sds!, credentials);
    clients.push(client);
    const s = XdsStream.sotw(client);
    s.send({ node: envoyNode(nodeId), resource_names: ['default'], type_url: secretTypeUrl });
    const first = decodeSecret((await s.next()).resources[0]);
    return { s, first };
  };
  const joinToken = async (spiffeId: string) => {
    const admin = connectAdmin(`${dir()}/admin.sock`);
    try {
      return (await admin.createJoinToken({ spiffe_id: spiffeId, dns_names: [], ttl_seconds: 600 })).token;
    } finally {
      admin.close();
    }
  };
  /** First contact: a join token buys the original SVID. */
  const join = async (spiffeId: string, nodeId: string) => sds().fetch('default', `Bearer ${await joinToken(spiffeId)}`, nodeId);
  const closeAll = () => clients.splice(0).forEach((c) => c.close());
  return { sds, stream, join, closeAll };
}

const lineageOf = (chainPem: string) => lineageStartOf(pemBlocks(chainPem)[0]!);
/** A stream's final status, or 'still open' after ms. */
const statusWithin = (s: XdsStream, ms: number) => Promise.race([s.status, sleep(ms).then(() => 'still open' as const)]);

describe('eviction', () => {
  let app: App;
  let dir: string;
  const h = harness(() => app, () => dir);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-evict-'));
    app = await startVmApp(dir);
  });
  afterAll(async () => {
    h.closeAll();
    await app?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ends the identity\'s streams, refuses renewal of its certificates, and leaves others alone; a new join token starts afresh', async () => {
    const original = await h.join(VM, 'db-1');
    const renewed = await h.sds(original).fetch('default', undefined, 'db-1');
    expect(renewed.spiffeIds).toEqual([VM]);
    // Renewal carries the lineage on: when the join token was presented.
    expect(lineageOf(renewed.chainPem)).toBe(lineageOf(original.chainPem));

    const vmStream = await h.stream(renewed, 'db-1');
    // A second instance of the identity with an original credential of its own (the dev profile's node.id).
    const devOriginal = await h.sds().fetch('default', undefined, 'vm/db-1');
    const bystanderSvid = await h.join('spiffe://cluster.local/vm/web-1', 'web-1');
    const bystander = await h.stream(bystanderSvid, 'web-1');

    let stdout = '';
    const program = new Command('workload-ca').exitOverride();
    registerIdentityCommand(program, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: () => true } });
    await program.parseAsync(['node', 'workload-ca', 'identity', 'evict', VM, '-o', 'json', '--admin-socket', `unix:${dir}/admin.sock`]);
    expect(JSON.parse(stdout)).toMatchObject({ spiffe_id: VM, streams_ended: 1 });

    expect(await statusWithin(vmStream.s, 5000)).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining(`${VM} was evicted`) });
    for (const stolen of [original, renewed]) {
      const err = await h.sds(stolen).fetch('default', undefined, 'db-1').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('cannot renew; present the original credential') });
    }

    // The bystander's stream stays open.
    expect(await statusWithin(bystander.s, 300)).toBe('still open');

    // Lineage starts have seconds precision: one in the eviction's second counts as before it.
    // The eviction is behind us, so the next whole second (a few ms into it) is past its second.
    await sleep(1000 - (Date.now() % 1000) + 20);
    const fresh = await h.join(VM, 'db-1');
    expect((await h.sds(fresh).fetch('default', undefined, 'db-1')).spiffeIds).toEqual([VM]);
    // The same instance coming back with its original credential gets a new key and lineage, not the cached pre-eviction one.
    const devAgain = await h.sds().fetch('default', undefined, 'vm/db-1');
    expect(devAgain.serial).not.toBe(devOriginal.serial);
    expect((await h.sds(devAgain).fetch('default', undefined, 'vm/db-1')).spiffeIds).toEqual([VM]);
    bystander.s.cancel();
  }, 30_000);
});

describe('renewal lineage maximum age', () => {
  let app: App;
  let dir: string;
  const h = harness(() => app, () => dir);
  // Above the second a lineage start may lie before the join (seconds precision) plus opening the stream.
  const MAX_AGE_S = 2;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-lineage-'));
    app = await startVmApp(dir, `identity: { mtls: { lineageMaxAge: ${MAX_AGE_S}s } }`);
  });
  afterAll(async () => {
    h.closeAll();
    await app?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ends a renewing stream when its lineage reaches the maximum age and refuses further renewal; the original credential starts a new lineage', async () => {
    const original = await h.join(VM, 'db-1');
    const started = lineageOf(original.chainPem)!;
    const { s } = await h.stream(original, 'db-1');
    const status = await statusWithin(s, MAX_AGE_S * 1000 + 5000);
    expect(status).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('reached its maximum age') });
    expect(Date.now()).toBeGreaterThanOrEqual(started + MAX_AGE_S * 1000);
    const err = await h.sds(original).fetch('default', undefined, 'db-1').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('present the original credential') });
    const fresh = await h.join(VM, 'db-1');
    expect(lineageOf(fresh.chainPem)).toBeGreaterThan(started);
    expect((await h.sds(fresh).fetch('default', undefined, 'db-1')).spiffeIds).toEqual([VM]);
  }, 30_000);
});
