/**
 * End-to-end proof for a minted intermediate: issue a leaf under it, have
 * `openssl verify -x509_strict -purpose sslserver` check the whole path to the
 * root, and complete a real mutual TLS handshake with it. Shared by the plugin
 * tests; leaves are signed here with @peculiar/x509 because the core's Authority
 * is not part of these tests.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import * as x509 from '@peculiar/x509';
import { generateTestKeys } from '../fakes/upstream-ca.js';

const run = promisify(execFile);

export interface TestLeaf {
  certPem: string;
  keyPem: string;
}

/** A leaf for `spiffeId` (plus DNS "localhost") signed by the intermediate `caKeys`/`caCertPem`. */
export async function issueTestLeaf(caKeys: CryptoKeyPair, caCertPem: string, spiffeId: string): Promise<TestLeaf> {
  const ca = new x509.X509Certificate(caCertPem);
  const keys = await generateTestKeys('ec-p256');
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    subject: 'O=SPIFFE',
    issuer: ca.subject,
    notBefore: new Date(now - 30_000),
    notAfter: new Date(Math.min(now + 3600_000, ca.notAfter.getTime())),
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: caKeys.privateKey.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'url', value: spiffeId },
        { type: 'dns', value: 'localhost' },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as webcrypto.CryptoKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { certPem: `${cert.toString('pem')}\n`, keyPem };
}

/** Runs openssl verify; resolves with its combined output, rejects when verification fails. */
export async function opensslVerify(rootsPem: string[], chainPem: string[], leafPem: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wca-verify-'));
  try {
    const files = { roots: path.join(dir, 'roots.pem'), chain: path.join(dir, 'chain.pem'), leaf: path.join(dir, 'leaf.pem') };
    await writeFile(files.roots, rootsPem.join(''));
    await writeFile(files.chain, chainPem.join(''));
    await writeFile(files.leaf, leafPem);
    const args = ['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', files.roots];
    if (chainPem.length > 0) args.push('-untrusted', files.chain);
    args.push(files.leaf);
    const { stdout, stderr } = await run('openssl', args, { timeout: 60_000 });
    return stdout + stderr;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Mutual TLS over loopback: server and client each present a leaf + chain and
 * trust only `rootsPem`. Resolves with the SPIFFE ID each side saw of the other.
 */
export async function mutualTlsHandshake(
  server: TestLeaf & { chainPem: string[] },
  client: TestLeaf & { chainPem: string[] },
  rootsPem: string[],
): Promise<{ serverSawClient: string; clientSawServer: string }> {
  const uriOf = (cert: tls.PeerCertificate) => (cert.subjectaltname ?? '').split(', ').find((s) => s.startsWith('URI:'))?.slice(4) ?? '';
  const srv = tls.createServer({
    cert: server.certPem + server.chainPem.join(''),
    key: server.keyPem,
    ca: rootsPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
  });
  const serverSaw = new Promise<string>((resolve, reject) => {
    srv.once('secureConnection', (socket) => {
      resolve(uriOf(socket.getPeerCertificate()));
      socket.end();
    });
    srv.once('tlsClientError', reject);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  try {
    const port = (srv.address() as AddressInfo).port;
    const clientSaw = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        cert: client.certPem + client.chainPem.join(''),
        key: client.keyPem,
        ca: rootsPem,
        rejectUnauthorized: true,
      });
      socket.once('secureConnect', () => {
        if (!socket.authorized) reject(new Error(`client: ${String(socket.authorizationError)}`));
        else resolve(uriOf(socket.getPeerCertificate()));
        socket.end();
      });
      socket.once('error', reject);
    });
    return { serverSawClient: await serverSaw, clientSawServer: clientSaw };
  } finally {
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}

/**
 * Everything the issue asks of a minted intermediate, in one call: two leaves
 * under it pass openssl verify and a mutual TLS handshake.
 */
export async function provesEndToEnd(
  caKeys: CryptoKeyPair,
  validated: { chainPem: string[]; rootsPem: string[] },
  trustDomain: string,
): Promise<{ opensslOutput: string; serverSawClient: string; clientSawServer: string }> {
  const [intermediatePem] = validated.chainPem;
  const a = await issueTestLeaf(caKeys, intermediatePem!, `spiffe://${trustDomain}/server`);
  const b = await issueTestLeaf(caKeys, intermediatePem!, `spiffe://${trustDomain}/client`);
  const opensslOutput = await opensslVerify(validated.rootsPem, validated.chainPem, a.certPem);
  const seen = await mutualTlsHandshake(
    { ...a, chainPem: validated.chainPem },
    { ...b, chainPem: validated.chainPem },
    validated.rootsPem,
  );
  return { opensslOutput, ...seen };
}
