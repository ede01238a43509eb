import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import type { ListenAddress } from '../../src/net/listen-address.js';
import { JoinTokenAuthenticator } from '../../src/identity/join-token/authenticator.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { decodeSecret, secretTypeUrl, XdsStream } from '../sds/envoy-client.js';
import { startHarness, trustDomain, type Harness } from '../sds/harness.js';

/**
 * Red team finding 6: within the join-token reuse window (it exists because Envoy
 * opens one SDS stream per secret) anyone on the same host presenting the same
 * node.id got the joining machine's key, and one spent token named 16 node
 * identities by varying node.cluster. Reuse is now bound to the connection that
 * spent the token and to the exact node (id and cluster).
 */

let h: Harness | undefined;
let dir: string | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function start(kind: 'tcp' | 'unix'): Promise<JoinTokenStore> {
  const joinTokens = new JoinTokenStore(trustDomain, systemClock, { maxTtlSeconds: 600, reuseWindowSeconds: 30 });
  let listen: ListenAddress = { kind: 'tcp', host: '127.0.0.1', port: 0 };
  if (kind === 'unix') {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-join-'));
    listen = { kind: 'unix', path: path.join(dir, 'sds.sock') };
  }
  h = await startHarness({ listen, authenticators: () => [new JoinTokenAuthenticator(joinTokens)] });
  return joinTokens;
}

/** A channel of its own: its own HTTP/2 connection, as a second Envoy on the host would have. */
const connection = () => h!.client(undefined, { 'grpc.use_local_subchannel_pool': 1 });

function stream(client: grpc.Client, token: string, node: { id: string; cluster: string }, name = 'default'): XdsStream {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const s = XdsStream.sotw(client, metadata);
  s.send({ node: { ...node, user_agent_name: 'envoy' }, type_url: secretTypeUrl, resource_names: [name] });
  return s;
}

async function refusal(s: XdsStream) {
  // Served instead (the flaw): no status comes, so fail fast rather than at the test timeout.
  const status = await Promise.race([s.status, new Promise<{ code: string; details: string }>((r) => setTimeout(() => r({ code: 'served', details: '' }), 5_000))]);
  s.cancel();
  expect(status.code).toBe(grpc.status.UNAUTHENTICATED);
  expect(status.details).toMatch(/^join token [0-9a-f]{16} was already used$/);
}

describe.each(['tcp', 'unix'] as const)('join-token reuse over %s', (kind) => {
  it('serves the joining Envoy’s streams on its connection; a neighbour with the same node, or another cluster, is refused', async () => {
    const joinTokens = await start(kind);
    const { token } = await joinTokens.create({ spiffeId: 'spiffe://cluster.local/vm/db', ttlSeconds: 600 });
    const node = { id: 'vm~db', cluster: 'vm' };

    // The joining Envoy: one connection, one stream per secret, as Envoy outside ADS.
    const envoy = connection();
    const defaultStream = stream(envoy, token, node);
    const secret = decodeSecret((await defaultStream.next()).resources[0]);
    expect(secret.privateKey).toContain('PRIVATE KEY');
    const rootca = stream(envoy, token, node, 'ROOTCA');
    expect((await rootca.next()).resources).toHaveLength(1);

    // A neighbour on the same host copies the node (id and cluster) on its own connection.
    await refusal(stream(connection(), token, node));
    // One spent token cannot name other nodes, even on the joining connection.
    await refusal(stream(envoy, token, { id: 'vm~db', cluster: 'other' }));
    await refusal(stream(envoy, token, { id: 'vm~other', cluster: 'vm' }));
    expect(h!.server.cache.stats().identities).toBe(1);
    [defaultStream, rootca].forEach((s) => s.cancel());
  });
});
