/**
 * Issue #13, reliability: connect/disconnect cycles against one replica (a child
 * process, so its RSS and descriptors are its own): clean ones (stream and
 * connection closed), abandoned ones vanishing after the answer (TCP RST, no
 * RST_STREAM, no GOAWAY), and, apart, ones vanishing right after the handshake
 * (TCP FIN). Each cycle is a new mutual-TLS connection and a StreamSecrets stream
 * renewing over mTLS. Afterwards, with garbage collected, the server's RSS is
 * within 10% of its baseline and its open file descriptors have not grown.
 *
 * The vanishing ones used to leave a descriptor per few dozen (Node's http2 session
 * stops reading after an EPIPE and never sees the FIN): the listener now closes a
 * connection that receives nothing for a PING interval and its timeout, 1 s each here
 * so a run settles in seconds. test/adversarial/vanishing-peers.test.ts reproduces the
 * cause deterministically; this measures the whole process.
 */
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frame, parseMessages, secretTypeUrl, streamPath } from '../../bench/sds-wire.js';
import { SdsTestClient, type FetchedSvid } from '../identity/sds-client.js';
import { createSite, SERVER_ID, sleep, soak, startChild, until, type ChildReplica, type Site } from './replicas.js';

// 300 by default (25 to 100 a second on a loaded 2-core box); WCA_SOAK=1 runs the 10,000 of the issue.
const CYCLES = soak === 1 ? 300 : 1_000 * soak;
const PARALLEL = 16;
const WARMUP = 100;
/** Descriptors allowed above the baseline: a signer thread's or the log's, opened lazily. */
const FD_SLACK = 4;
/** Silent peers are let go within a PING interval and its timeout (1 s each here) and a sweep. */
const SILENT_LET_GO_MS = 2_500;
/** Node IDs the cycles use: one caller holds at most 16 nodes (a node's key outlives its streams). */
const NODES = 8;

describe('connect/disconnect churn and abandoned streams against one replica', () => {
  let site: Site;
  let replica: ChildReplica;
  let svid: FetchedSvid;
  /** The client's trust, certificate and key, parsed once: each cycle is still a full handshake. */
  let clientContext: tls.SecureContext;

  beforeAll(async () => {
    site = await createSite('wca-rel-churn-');
    // This measures what churn leaves behind, not load shedding: a busy machine must not get the cycles refused as overload.
    replica = await startChild(site.config('a', { idleTimeout: '3s', pingInterval: '1s', maxIssuanceWait: '10s' }), 'replica-a');
    const { token } = await replica.admin.createJoinToken({ spiffe_id: 'spiffe://cluster.local/ns/rel/sa/churn', dns_names: [], ttl_seconds: 600 });
    const client = new SdsTestClient(replica.sds, replica.bundlePem, SERVER_ID);
    svid = await client.fetch('default', `Bearer ${token}`, 'churn~10.0.0.1');
    client.close();
    clientContext = tls.createSecureContext({ ca: replica.bundlePem, cert: svid.chainPem, key: svid.privateKeyPem });
  }, 60_000);

  afterAll(async () => {
    await replica?.close();
    site?.close();
  });

  /** One cycle: connect with mTLS, ask for `default`, then leave in the way `how` says. */
  function cycle(worker: number, how: 'clean' | 'vanish-before' | 'vanish-after'): Promise<void> {
    const [host, port] = [replica.sds.slice(0, replica.sds.lastIndexOf(':')), Number(replica.sds.slice(replica.sds.lastIndexOf(':') + 1))];
    // The TCP socket under TLS: what a vanishing client's kernel closes (FIN) or resets (RST).
    const raw = net.connect(port, host);
    let socket!: tls.TLSSocket;
    const session = http2.connect(`https://${replica.sds}`, {
      createConnection: () =>
        (socket = tls.connect({
          socket: raw,
          ALPNProtocols: ['h2'],
          secureContext: clientContext,
          checkServerIdentity: (_h, cert) => (cert.subjectaltname === `URI:${SERVER_ID}` ? undefined : new Error(`server is ${cert.subjectaltname}`)),
        })),
    });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`cycle (${how}) took over 20 s`)), 20_000);
      const done = (err?: Error) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      session.on('error', () => undefined);
      const stream = session.request({ ':method': 'POST', ':path': streamPath, 'content-type': 'application/grpc', te: 'trailers' }, { endStream: false });
      stream.on('error', () => undefined);
      // A refusal is trailers-only: grpc-status in the response headers.
      stream.on('response', (h) => h['grpc-status'] !== undefined && done(new Error(`refused (${how}): ${h['grpc-status']} ${decodeURIComponent(String(h['grpc-message']))}`)));
      stream.write(frame({ node: { id: `churn-${worker % NODES}~10.0.0.1`, cluster: 'rel' }, resource_names: ['default'], type_url: secretTypeUrl }));
      if (how === 'vanish-before') {
        socket.once('secureConnect', () => setImmediate(() => (raw.destroy(), done())));
        return;
      }
      parseMessages(stream, (res) => {
        if (res.resources.length !== 1) return done(new Error(`${res.resources.length} resources`));
        if (how === 'vanish-after') raw.resetAndDestroy();
        else {
          stream.close();
          session.close();
        }
        done();
      });
      stream.on('close', () => done(new Error(`stream closed before an answer (${how})`)));
    });
  }

  type How = Parameters<typeof cycle>[1];
  async function churn(cycles: number, kinds: readonly How[]): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async (_, worker) => {
        for (let i = next++; i < cycles; i = next++) await cycle(worker, kinds[i % kinds.length]!);
      }),
    );
  }

  /** The server's RSS after a full GC, and its descriptors. */
  const sample = async () => ({ rss: await replica.gcRss(), fds: replica.fdCount() });

  /**
   * Once every peer of the last cycles has been let go: the server's SDS listener holds no
   * connection (it counts each from the TCP accept until its socket's 'close'). Past
   * `quietMs` (a peer that closes or resets is let go at once, a silent one within a PING
   * interval and its timeout) it samples anyway, as the fixed wait this replaced did: a
   * connection never let go is then in the descriptors the assertions compare.
   */
  async function settled(quietMs: number): Promise<{ rss: number; fds: number }> {
    await until('every peer let go', async () => (await replica.sdsConnections()) === 0, quietMs).catch(() => undefined);
    return sample();
  }

  /**
   * Churn after a warm-up (`warmUp` cycles, `kinds` unless given); the server's RSS and
   * descriptors before and after, each after a full GC.
   */
  async function measure(
    kinds: readonly How[],
    cycles: number,
    warmUp: readonly How[] = kinds,
  ): Promise<{ baseline: { rss: number; fds: number }; after: { rss: number; fds: number } }> {
    // A peer that closes or resets is let go at once; one that goes silent after a PING interval and its timeout.
    const quietMs = (of: readonly How[]) => (of.includes('vanish-before') ? SILENT_LET_GO_MS : 1_000);
    await churn(WARMUP, warmUp);
    const baseline = await settled(quietMs(warmUp));
    const started = Date.now();
    await churn(cycles, kinds);
    const seconds = (Date.now() - started) / 1000;
    let after = await settled(quietMs(kinds));
    // RSS is given back lazily, and closed peers are noticed: allow a few seconds of quiet.
    const back = (now: { rss: number; fds: number }) => now.rss <= baseline.rss * 1.1 && now.fds <= baseline.fds + FD_SLACK;
    // A full GC per look, four a second at most.
    if (!back(after)) await until('RSS and descriptors back', async () => back((after = await sleep(250).then(sample))), 8_000).catch(() => undefined);
    console.log(
      `churn (${kinds.join(', ')}): ${cycles} cycles in ${seconds.toFixed(1)} s; server RSS ${(baseline.rss / 2 ** 20).toFixed(1)} -> ${(after.rss / 2 ** 20).toFixed(1)} MiB, fds ${baseline.fds} -> ${after.fds}`,
    );
    return { baseline, after };
  }

  it(`${CYCLES} cycles, clean and reset (RST) after the answer: RSS back within 10% of the baseline, no file-descriptor growth`, async () => {
    const { baseline, after } = await measure(['clean', 'vanish-after'], CYCLES);
    expect(after.rss).toBeLessThanOrEqual(baseline.rss * 1.1);
    expect(after.fds).toBeLessThanOrEqual(baseline.fds + FD_SLACK);
  }, 120_000 * soak);

  it(`${CYCLES} cycles vanishing (FIN) right after the handshake: no file-descriptor growth`, async () => {
    // Warmed up by clean cycles: the same handshakes, streams and issuance bring the server to its steady state, and
    // the baseline need not wait out a PING interval and its timeout for silent warm-up peers (about 2.3 s). Whatever
    // vanishing peers alone leave behind is then measured, not hidden in the baseline.
    const { baseline, after } = await measure(['vanish-before'], CYCLES, ['clean']);
    expect(after.rss).toBeLessThanOrEqual(baseline.rss * 1.1);
    expect(after.fds).toBeLessThanOrEqual(baseline.fds + FD_SLACK);
  }, 120_000 * soak);
});
