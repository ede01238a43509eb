import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Authority } from '../../src/ca/authority.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { isWcaError, type WcaError } from '../../src/errors.js';
import { InsecureDevAuthenticator } from '../../src/identity/insecure-dev.js';
import { UnixAuthenticator } from '../../src/identity/unix.js';
import type { Authenticator, CallerContext } from '../../src/identity/types.js';
import { resolveSdsTransport } from '../../src/transport/sds-transport.js';
import { listenTls } from '../../src/transport/tls-listener.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { decodeSecret, envoyNode, secretTypeUrl, XdsStream } from './envoy-client.js';
import { startHarness, trustDomain } from './harness.js';
import { sdsConfigSchema } from '../../src/sds/config.js';
import { splitPem } from '../helpers/pki.js';

let authority: Authority;
let dir: string;
beforeAll(async () => {
  authority = await createDevAuthority({ trustDomain });
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-sds-'));
});
afterAll(async () => {
  await authority?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function fetchDefault(client: grpc.Client, nodeId = 'ns/a/sa/b') {
  const stream = XdsStream.sotw(client);
  stream.send({ node: envoyNode(nodeId), resource_names: ['default'], type_url: secretTypeUrl });
  const secret = decodeSecret((await stream.next()).resources[0]);
  stream.cancel();
  return secret;
}

function uriOf(chainPem: string): string | undefined {
  return new X509Certificate(chainPem).subjectAltName;
}

/** TLS channel credentials that trust the bundle and check the server's SPIFFE ID, recording what it presented. */
function spiffeTls(key?: string, cert?: string) {
  const seen: PeerCertificate[] = [];
  const credentials = grpc.credentials.createSsl(Buffer.from(authority.bundle().pem), key ? Buffer.from(key) : null, cert ? Buffer.from(cert) : null, {
    checkServerIdentity: (_host, peer) => {
      seen.push(peer);
      return peer.subjectaltname === `URI:spiffe://${trustDomain}/workload-ca/sds` ? undefined : new Error(`unexpected server ${peer.subjectaltname}`);
    },
  });
  return { credentials, seen };
}

describe('TLS transport', () => {
  it('presents its own SVID, and rotates it when the CA rotates', async () => {
    const h = await startHarness({ authority, transport: 'tls' });
    try {
      const first = spiffeTls();
      expect(uriOf((await fetchDefault(h.client(first.credentials))).certificateChain!)).toBe(`URI:spiffe://${trustDomain}/ns/a/sa/b`);
      await h.rotate();
      await expect
        .poll(
          async () => {
            const again = spiffeTls();
            await fetchDefault(h.client(again.credentials));
            return again.seen[0]?.serialNumber;
          },
          { timeout: 20_000 },
        )
        .not.toBe(first.seen[0]?.serialNumber);
    } finally {
      await h.close();
    }
  });
});

describe('TLS transport, server DNS names', () => {
  const serviceName = 'workload-ca.workload-ca.svc';
  /** A client that checks the name it dials, as gRPC's default TLS check (and Envoy's google_grpc) does. */
  async function dialByName(h: Awaited<ReturnType<typeof startHarness>>) {
    const credentials = grpc.credentials.createSsl(Buffer.from(authority.bundle().pem));
    return fetchDefault(h.client(credentials, { 'grpc.ssl_target_name_override': serviceName }));
  }

  it('presents sds.serverDnsNames next to its SPIFFE ID, so a client dialling the Service name accepts it', async () => {
    const h = await startHarness({ authority, transport: 'tls', config: { serverDnsNames: [serviceName] } });
    try {
      expect(uriOf((await dialByName(h)).certificateChain!)).toBe(`URI:spiffe://${trustDomain}/ns/a/sa/b`);
    } finally {
      await h.close();
    }
  });

  it('without them, that client refuses the server', async () => {
    const h = await startHarness({ authority, transport: 'tls' });
    try {
      await expect(dialByName(h)).rejects.toThrow(/stream ended \(code 14/);
    } finally {
      await h.close();
    }
  });

  it('a bad name is a config error naming the key', () => {
    const parsed = sdsConfigSchema.safeParse({ serverDnsNames: ['bad..name'] });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['serverDnsNames']);
  });
});

describe('mTLS transport', () => {
  it('asks for a client certificate without requiring one, and hands the presented chain with OpenSSL\'s verdict to the authenticators', async () => {
    const seen: CallerContext[] = [];
    const recording: Authenticator = {
      name: 'recording',
      authenticate: async (context) => {
        seen.push(context);
        return null;
      },
    };
    const h = await startHarness({
      authority,
      transport: 'mtls',
      authenticators: (listen) => [recording, new InsecureDevAuthenticator({ profile: 'dev', trustDomain, listen, logger: silentLogger() })],
    });
    const foreignCa = await createDevAuthority({ trustDomain, signers: 1 });
    try {
      const svid = await authority.issue({ spiffeId: `spiffe://${trustDomain}/ns/client/sa/envoy` });
      await fetchDefault(h.client(spiffeTls(svid.privateKeyPem, svid.chainPem).credentials));
      expect(seen[0]!.transport).toBe('tls');
      // The whole chain as sent (leaf, then our intermediate), not only the leaf; OpenSSL may append the root it found.
      const sent = splitPem(svid.chainPem).map((pem) => new X509Certificate(pem).fingerprint256);
      expect(sent).toHaveLength(2);
      expect(seen[0]!.peerChain!.certificates.map((der) => new X509Certificate(Buffer.from(der)).fingerprint256).slice(0, sent.length)).toEqual(sent);
      expect(seen[0]!.peerChain!.verifyError).toBeNull();

      // No certificate: the TLS handshake succeeds and the call reaches the authenticators without one.
      await fetchDefault(h.client(spiffeTls().credentials));
      expect(seen[1]!.transport).toBe('tls');
      expect(seen[1]!.peerChain).toBeUndefined();

      // A certificate that does not chain to our bundle is not hidden: the authenticators see it, refused.
      const foreign = await foreignCa.issue({ spiffeId: `spiffe://${trustDomain}/ns/client/sa/envoy` });
      await fetchDefault(h.client(spiffeTls(foreign.privateKeyPem, foreign.chainPem).credentials));
      expect(new X509Certificate(Buffer.from(seen[2]!.peerChain!.certificates[0]!)).fingerprint256).toBe(new X509Certificate(splitPem(foreign.chainPem)[0]!).fingerprint256);
      expect(seen[2]!.peerChain!.verifyError).toBe('UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    } finally {
      await foreignCa.close();
      await h.close();
    }
  });

  it('refuses to guess the client certificate of a connection it does not know', async () => {
    const server = new grpc.Server();
    const listener = await listenTls({
      grpcServer: server,
      host: '127.0.0.1',
      port: 0,
      feed: {
        watchCertificate: (listener) => {
          void authority.issue({ spiffeId: `spiffe://${trustDomain}/workload-ca/sds` }).then(listener);
          return () => undefined;
        },
        watchTrust: (listener) => {
          listener({ rootsPem: authority.bundle().pem, intermediatesPem: authority.intermediatesPem() });
          return () => undefined;
        },
      },
      requestClientCertificate: true,
      connections: { handshakeTimeoutMs: 10_000, perAddress: 16, max: 64, keepalive: { intervalMs: 30_000, timeoutMs: 10_000 } },
      logger: silentLogger(),
    });
    try {
      let caught: unknown;
      try {
        listener.peerChain('127.0.0.1:1');
      } catch (err) {
        caught = err;
      }
      expect(isWcaError(caught, 'ERR_UNAUTHENTICATED')).toBe(true);
      expect((caught as WcaError).details.reason).toBe('tls-connection-unknown');
    } finally {
      await listener.close();
      server.forceShutdown();
    }
  });
});

describe('Unix socket transport', () => {
  it.each(['0600', '0660'] as const)('creates the socket with mode %s and serves the one bound identity', async (mode) => {
    const socketPath = path.join(dir, `sds-${mode}.sock`);
    const h = await startHarness({
      authority,
      listen: { kind: 'unix', path: socketPath },
      socketMode: mode,
      authenticators: () => [new UnixAuthenticator({ spiffeId: `spiffe://${trustDomain}/ns/side/sa/car` })],
    });
    try {
      expect(h.server.address).toBe(`unix:${socketPath}`);
      expect((await stat(socketPath)).mode & 0o777).toBe(Number.parseInt(mode, 8));
      const secret = await fetchDefault(h.client(), 'whatever-node');
      expect(uriOf(secret.certificateChain!)).toBe(`URI:spiffe://${trustDomain}/ns/side/sa/car`);
      const clash = await startHarness({ authority, listen: { kind: 'unix', path: socketPath } }).catch((err: unknown) => err);
      expect(isWcaError(clash, 'ERR_LISTEN_ADDRESS')).toBe(true);
    } finally {
      await h.close();
    }
    await expect(stat(socketPath)).rejects.toThrow(/ENOENT/);
  });

  it('refuses to replace a file that is not a socket', async () => {
    const file = path.join(dir, 'not-a-socket');
    await writeFile(file, 'x');
    const err = await startHarness({ authority, listen: { kind: 'unix', path: file } }).catch((e: unknown) => e);
    expect(isWcaError(err, 'ERR_LISTEN_ADDRESS')).toBe(true);
  });
});

describe('transport policy', () => {
  const tcp = (host: string) => ({ kind: 'tcp' as const, host, port: 8234 });
  it.each([
    { requested: undefined, profile: 'dev', listen: tcp('127.0.0.1'), expected: 'plaintext' },
    { requested: undefined, profile: 'production', listen: tcp('127.0.0.1'), expected: 'tls' },
    { requested: 'mtls', profile: 'production', listen: tcp('0.0.0.0'), expected: 'mtls' },
    { requested: 'tls', profile: 'dev', listen: { kind: 'unix' as const, path: '/tmp/x.sock' }, expected: 'unix' },
    { requested: 'plaintext', profile: 'production', listen: tcp('127.0.0.1'), expected: 'ERR_CONFIG_INVALID' },
    { requested: 'plaintext', profile: 'dev', listen: tcp('0.0.0.0'), expected: 'ERR_CONFIG_INVALID' },
  ] as const)('$requested / $profile / $listen.host → $expected', ({ requested, profile, listen, expected }) => {
    let result: string;
    try {
      result = resolveSdsTransport(requested, profile, listen);
    } catch (err) {
      result = isWcaError(err) ? err.code : String(err);
    }
    expect(result).toBe(expected);
  });
});
