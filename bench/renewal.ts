/**
 * mTLS renewal path (issue #8): each renewal is a new TLS connection presenting
 * the caller's SVID (OpenSSL validates the chain in the handshake, client
 * purpose, against the bundle and our intermediates; then MtlsAuthenticator's
 * own-intermediate, validity, eviction and lineage checks) and one FetchSecrets
 * for `default`, from M concurrent clients, against a real SDS server over `mtls`.
 *
 * Baselines, same run, same process:
 *  (a) the same server and the same gRPC client doing the same FetchSecrets over a
 *      new TLS connection without a client certificate, authenticated by a JWT the
 *      server has already verified (its verified-token cache: an Envoy
 *      reconnecting). Both paths then serve the same cached identity, so the
 *      difference is the client certificate (handshake and OpenSSL path
 *      validation) plus MtlsAuthenticator's checks.
 *  (b) bare node:tls handshakes with and without a client certificate, verified
 *      against the same roots and intermediates with the listener's settings:
 *      OpenSSL's share of (a)'s difference.
 * Clients and server share one process (one event loop): each figure includes
 * the client's side of the handshake (for a certificate: one ECDSA signature).
 */
import * as grpc from '@grpc/grpc-js';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { Authority } from '../src/ca/authority.js';
import type { IssuedSvid } from '../src/ca/types.js';
import { systemClock } from '../src/clock.js';
import { createDevAuthority } from '../src/app/dev-authority.js';
import { EvictionList } from '../src/identity/evictions.js';
import { MtlsAuthenticator } from '../src/identity/mtls.js';
import { rulePolicyWithBuiltins } from '../src/identity/policy/builtin.js';
import { ruleSchema } from '../src/identity/policy/config.js';
import { sdsConfigSchema } from '../src/sds/config.js';
import { startSdsServer } from '../src/sds/server.js';
import { sdsServerSpiffeId } from '../src/spiffe/reserved.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import { pemBlocks } from '../src/x509/der.js';
import { fetchSecretOn } from '../test/identity/sds-client.js';
import { measure, type LatencyUs } from './auth-jwt.js';
import { benchJwtIssuer } from './jwt-fixture.js';

const TD = 'cluster.local';
/** What the JWT rule grants the bench token, and the SVID the mTLS clients present: one identity for both. */
const ID = `spiffe://${TD}/ns/shop/sa/cart`;

/** Operations before measuring: JIT, and the first FetchSecrets of each caller issues its leaf. */
const warmupOf = (count: number) => Math.max(16, Math.min(200, Math.floor(count / 4)));

export interface RateAndLatency {
  perSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU (user + system) of this process, client and server side, per operation: steadier than rates on a loaded machine. */
  cpuUsPerOp: number;
}

export interface RenewalBenchResult {
  count: number;
  concurrency: number;
  mtlsRenewal: RateAndLatency;
  /** (a) same server, same FetchSecrets, cached JWT instead of a client certificate. */
  jwtFetch: RateAndLatency;
  /** (b) bare node:tls handshakes. */
  tlsWithCert: RateAndLatency;
  tlsWithoutCert: RateAndLatency;
  /** (c) MtlsAuthenticator.authenticate alone on the presented chain: our checks without TLS or gRPC. */
  mtlsChecks: LatencyUs;
}

/** `count` operations, `concurrency` at a time; each timed from start to finish. */
async function closedLoop(count: number, concurrency: number, op: () => Promise<void>): Promise<RateAndLatency> {
  const latencies: number[] = [];
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const worker = async () => {
    while (next++ < count) {
      const t0 = performance.now();
      await op();
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const { user, system } = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return { perSec: count / seconds, p50Ms: q(0.5), p99Ms: q(0.99), cpuUsPerOp: (user + system) / count };
}

const expectServer = (expected: string) => (_host: string, cert: tls.PeerCertificate) =>
  cert.subjectaltname === `URI:${expected}` ? undefined : new Error(`server is ${cert.subjectaltname}, expected ${expected}`);

/** One FetchSecrets("default") over a new connection (a local subchannel pool: grpc-js would otherwise reuse one). */
async function fetchDefault(address: string, credentials: grpc.ChannelCredentials, metadata: grpc.Metadata): Promise<void> {
  const client = new grpc.Client(address, credentials, { 'grpc.use_local_subchannel_pool': 1 });
  try {
    const secret = await fetchSecretOn(client, 'default', metadata, 'sidecar~10.0.0.7~cart~shop');
    if (!secret.tls_certificate) throw new Error('FetchSecrets(default) returned no certificate');
  } finally {
    client.close();
  }
}

/**
 * A bare node:tls server with the SDS listener's settings (request, do not require,
 * a client certificate; OpenSSL verifies it against `ca`), and a client that waits
 * for the server's verdict byte, so server-side validation is inside the timing.
 */
async function bareTlsHandshakes(serverSvid: IssuedSvid, clientSvid: IssuedSvid, ca: string[], rootsPem: string, count: number, concurrency: number) {
  const server = tls.createServer({
    cert: serverSvid.chainPem,
    key: serverSvid.privateKeyPem,
    ca,
    ALPNProtocols: ['h2'],
    requestCert: true,
    rejectUnauthorized: false,
  });
  server.on('secureConnection', (socket) => socket.end(socket.authorized ? 'Y' : 'N'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  // One context per kind of client, as grpc-js keeps one per credentials object: no PEM parsing per connection.
  const contexts = {
    with: tls.createSecureContext({ ca: rootsPem, cert: clientSvid.chainPem, key: clientSvid.privateKeyPem }),
    without: tls.createSecureContext({ ca: rootsPem }),
  };
  const handshake = (withCert: boolean) => () =>
    new Promise<void>((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        secureContext: withCert ? contexts.with : contexts.without,
        ALPNProtocols: ['h2'],
        checkServerIdentity: expectServer(serverSvid.spiffeId),
      });
      socket.once('error', reject);
      socket.once('data', (verdict) => {
        socket.destroy();
        if (socket.isSessionReused()) return reject(new Error('TLS session resumed: not a full handshake'));
        // Without a certificate OpenSSL has nothing to authorize: 'N' is the expected verdict.
        if (verdict.toString() !== (withCert ? 'Y' : 'N')) return reject(new Error(`unexpected server verdict ${verdict.toString()}`));
        resolve();
      });
    });
  try {
    await closedLoop(warmupOf(count), concurrency, handshake(true));
    const tlsWithCert = await closedLoop(count, concurrency, handshake(true));
    const tlsWithoutCert = await closedLoop(count, concurrency, handshake(false));
    return { tlsWithCert, tlsWithoutCert };
  } finally {
    server.close();
  }
}

export async function runRenewalBench(options: { count?: number; concurrency?: number } = {}): Promise<RenewalBenchResult> {
  const count = options.count ?? Number(process.env.WCA_BENCH_RENEWALS ?? 2000);
  const concurrency = options.concurrency ?? Number(process.env.WCA_BENCH_CONCURRENCY ?? 16);
  const authority: Authority = await createDevAuthority({ trustDomain: TD, signers: 1 });
  const jwt = await benchJwtIssuer();
  // Keep long enough for the run; the bench evicts nothing, but every renewal is checked against the list.
  const evictions = new EvictionList(systemClock, 3600_000);
  const mtls = new MtlsAuthenticator({ trustDomain: TD, clock: systemClock, intermediates: () => authority.intermediatesPem(), evictions, lineageMaxAgeMs: 30 * 86_400_000 });
  const server = await startSdsServer({
    issuer: authority,
    authenticators: [mtls, jwt.authenticator()],
    policy: rulePolicyWithBuiltins(
      TD,
      [ruleSchema.parse({ name: 'service-accounts', match: { authenticator: 'jwt' }, spiffeId: 'spiffe://{{trustDomain}}/ns/{{namespace}}/sa/{{serviceAccount}}' })],
      3600,
    ),
    config: sdsConfigSchema.parse({}),
    profile: 'production',
    logger: silentLogger(),
    metrics: createMetrics(),
    clock: systemClock,
    listen: { kind: 'tcp', host: '127.0.0.1', port: 0 },
    transport: 'mtls',
    evictions,
  });
  try {
    const rootsPem = authority.bundle().pem;
    // Obtained once, as a join token or JWT would have bought it: the credential every renewal presents.
    const svid = await authority.issue({ spiffeId: ID });
    const checkServerIdentity = expectServer(sdsServerSpiffeId(TD));
    const withCert = grpc.credentials.createSsl(Buffer.from(rootsPem), Buffer.from(svid.privateKeyPem), Buffer.from(svid.chainPem), { checkServerIdentity });
    const withoutCert = grpc.credentials.createSsl(Buffer.from(rootsPem), null, null, { checkServerIdentity });
    const noMetadata = new grpc.Metadata();
    const bearer = new grpc.Metadata();
    bearer.set('authorization', `Bearer ${await jwt.mint(0)}`);
    const renew = () => fetchDefault(server.address, withCert, noMetadata);
    const jwtFetch = () => fetchDefault(server.address, withoutCert, bearer);

    // Warm-up: JIT, the verified-token cache, and each caller's cached identity.
    await closedLoop(warmupOf(count), concurrency, renew);
    await closedLoop(warmupOf(count), concurrency, jwtFetch);
    const mtlsRenewal = await closedLoop(count, concurrency, renew);
    const jwtResult = await closedLoop(count, concurrency, jwtFetch);

    const tlsServer = await authority.issue({ spiffeId: `spiffe://${TD}/bench/tls-server` });
    const bare = await bareTlsHandshakes(tlsServer, svid, [rootsPem, ...authority.intermediatesPem()], rootsPem, count, concurrency);
    // As the listener hands it over: DER as sent, OpenSSL's verdict already in.
    const presented = { transport: 'tls' as const, peerAddress: '127.0.0.1:1', metadata: new Map(), peerChain: { certificates: pemBlocks(svid.chainPem), verifyError: null } };
    if ((await mtls.authenticate(presented))?.subject !== ID) throw new Error('the presented SVID did not authenticate');
    const mtlsChecks = await measure(count, () => mtls.authenticate(presented));
    return { count, concurrency, mtlsRenewal, jwtFetch: jwtResult, ...bare, mtlsChecks };
  } finally {
    await server.close();
    await authority.close();
  }
}

export function printRenewalBench(r: RenewalBenchResult): void {
  const fmt = (x: RateAndLatency) =>
    `${Math.round(x.perSec).toLocaleString('en-US')}/s  p50 ${x.p50Ms.toFixed(2)} ms  p99 ${x.p99Ms.toFixed(2)} ms  CPU ${Math.round(x.cpuUsPerOp)} µs/op`;
  const ratio = (a: RateAndLatency, b: RateAndLatency) => `rate x${(a.perSec / b.perSec).toFixed(3)}, CPU x${(a.cpuUsPerOp / b.cpuUsPerOp).toFixed(3)}`;
  console.log(`== mTLS renewal (new TLS connection + FetchSecrets default, ${r.count} each, ${r.concurrency} concurrent, clients in the same process) ==`);
  console.log(`(a) baseline: same server, cached JWT, no client cert   ${fmt(r.jwtFetch)}`);
  console.log(`    mTLS renewal (client SVID, OpenSSL + our checks)     ${fmt(r.mtlsRenewal)}  vs (a): ${ratio(r.mtlsRenewal, r.jwtFetch)}`);
  console.log(`(b) baseline: bare node:tls handshake, no client cert   ${fmt(r.tlsWithoutCert)}`);
  console.log(`    bare node:tls handshake, client cert verified        ${fmt(r.tlsWithCert)}  vs (b): ${ratio(r.tlsWithCert, r.tlsWithoutCert)}`);
  const renewalCpu = r.mtlsRenewal.cpuUsPerOp - r.jwtFetch.cpuUsPerOp;
  const certCpu = r.tlsWithCert.cpuUsPerOp - r.tlsWithoutCert.cpuUsPerOp;
  console.log(
    `    CPU a renewal costs over (a): ${Math.round(renewalCpu)} µs; a client certificate in a bare handshake (client signature + OpenSSL path validation): ${Math.round(certCpu)} µs; the rest, ${Math.round(renewalCpu - certCpu)} µs: chain hand-over and our checks`,
  );
  console.log(`(c) MtlsAuthenticator checks alone (own intermediate, validity, eviction, lineage): median ${r.mtlsChecks.medianUs.toFixed(1)} µs, p99 ${r.mtlsChecks.p99Us.toFixed(1)} µs`);
}
