import type http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connect, envoyNode, secretTypeUrl, XdsStream } from '../sds/envoy-client.js';
import { connectRaw, openIdleStream, rawTarget } from './raw-h2.js';
import { serveProcess } from '../helpers/serve-process.js';

/**
 * Issue #8 item 11: SIGTERM to the real `workload-ca serve` process, with open
 * streams on plaintext TCP and on a Unix socket. Half the streams are served
 * Envoy-like grpc-js streams, half raw HTTP/2 streams that never send a request
 * and never close their side (a peer that does not help the server shut down).
 */

const shutdownTimeoutSeconds = 1;
const perKind = 100;

/** Open SDS streams as the server's own wca_sds_streams gauge counts them. */
async function openOnServer(http: string): Promise<number> {
  const text = await (await fetch(`http://${http}/metrics`)).text();
  return [...text.matchAll(/^wca_sds_streams\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

async function openStreams(address: string) {
  const client = connect(address);
  onTestFinished(() => client.close());
  const served = Array.from({ length: perKind }, (_, i) => {
    const stream = XdsStream.sotw(client);
    stream.send({ node: envoyNode(`ns/shutdown/sa/envoy-${i}`), type_url: secretTypeUrl, resource_names: ['default'] });
    return stream;
  });
  // Served for real before the signal: each has its certificate.
  await Promise.all(served.map((s) => s.next()));

  const sessions: http2.ClientHttp2Session[] = [];
  for (let i = 0; i < 2; i++) sessions.push(await connectRaw(rawTarget(address)));
  onTestFinished(() => sessions.forEach((s) => s.destroy()));
  const idle = Array.from({ length: perKind }, (_, i) => openIdleStream(sessions[i % sessions.length]!).outcome);
  return { served, idle };
}

describe.each([
  ['plaintext TCP', () => '127.0.0.1:0'],
  ['a Unix socket', (dir: string) => `unix:${dir}/sds.sock`],
])('SIGTERM with open SDS streams on %s', (_name, sds) => {
  it(`ends every stream with UNAVAILABLE and exits 0 within shutdownTimeout (${shutdownTimeoutSeconds}s)`, async () => {
    const { child, sds: address, http, exited: exitedSince } = await serveProcess({ sds, yaml: `shutdownTimeout: ${shutdownTimeoutSeconds}s\n` });
    const { served, idle } = await openStreams(address);
    // Every stream is known to the server before the signal, idle ones included.
    await expect.poll(() => openOnServer(http), { timeout: 10_000 }).toBe(2 * perKind);

    const signalled = Date.now();
    const exited = exitedSince(signalled);
    child.kill('SIGTERM');
    const outcome = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 15_000))]);
    // The drain deadline, plus generous time for the rest of the process to stop on a loaded machine.
    expect(outcome).toMatchObject({ code: 0 });
    expect((outcome as { ms: number }).ms).toBeLessThan((shutdownTimeoutSeconds + 4) * 1000);

    const statuses = await Promise.all(served.map((s) => s.status));
    for (const status of statuses) {
      expect(status.code).toBe(grpc.status.UNAVAILABLE);
      expect(status.details).toMatch(/shutting down/);
    }
    const idleOutcomes = await Promise.all(idle);
    for (const result of idleOutcomes) expect(result.grpcStatus).toBe(grpc.status.UNAVAILABLE);
  });
});
