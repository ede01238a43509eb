/**
 * Certificate authorities made with the `openssl` CLI at test time, for chains our
 * own code would never build (name-constrained or path-length-limited sub-CAs,
 * leaves with the wrong key usage). Keys are generated in memory and reach openssl
 * through a FIFO, so no private key is ever written to disk; only certificates,
 * public keys and extension files land in a temporary directory.
 */
import { execFile } from 'node:child_process';
import crypto, { type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface OpensslCert {
  readonly certPem: string;
  readonly key: KeyObject;
  /** PKCS#8 PEM of the key, for TLS clients (kept in memory). */
  readonly keyPem: string;
}

/** openssl x509v3 config lines for common shapes. */
export const extensions = {
  ca: (pathLen?: number, extra = '') =>
    `basicConstraints=critical,CA:TRUE${pathLen === undefined ? '' : `,pathlen:${pathLen}`}\nkeyUsage=critical,keyCertSign,cRLSign\n${extra}`,
  svid: (spiffeId: string, { eku = 'clientAuth,serverAuth', keyUsage = 'digitalSignature' } = {}) =>
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,${keyUsage}\nextendedKeyUsage=${eku}\nsubjectAltName=critical,URI:${spiffeId}\n`,
};

export class OpensslWorkbench {
  private counter = 0;

  private constructor(private readonly dir: string) {}

  static async open(): Promise<OpensslWorkbench> {
    return new OpensslWorkbench(await mkdtemp(path.join(os.tmpdir(), 'wca-openssl-')));
  }

  /** A self-signed root. */
  root(subject: string, ext = extensions.ca()): Promise<OpensslCert> {
    return this.make(subject, ext, undefined);
  }

  /** A certificate for a fresh P-256 key, signed by issuer. */
  issue(issuer: OpensslCert, subject: string, ext: string): Promise<OpensslCert> {
    return this.make(subject, ext, issuer);
  }

  close(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }

  private async make(subject: string, ext: string, issuer: OpensslCert | undefined): Promise<OpensslCert> {
    const n = this.counter++;
    const file = (name: string) => path.join(this.dir, `${n}-${name}`);
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(file('ext.cnf'), `[v3]\n${ext}subjectKeyIdentifier=hash\n${issuer ? 'authorityKeyIdentifier=keyid\n' : ''}`);
    const args = ['x509', '-new', '-subj', subject, '-days', '2', '-extfile', file('ext.cnf'), '-extensions', 'v3'];
    const signer = issuer?.key ?? privateKey;
    const fifo = file('signing-key.fifo');
    await run('mkfifo', ['-m', '600', fifo]);
    if (issuer) {
      await writeFile(file('pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
      await writeFile(file('ca.pem'), issuer.certPem);
      args.push('-force_pubkey', file('pub.pem'), '-CA', file('ca.pem'), '-CAkey', fifo);
    } else {
      args.push('-key', fifo);
    }
    // openssl opens the FIFO for reading; the key goes through it from memory.
    const [{ stdout }] = await Promise.all([
      run('openssl', args, { timeout: 30_000 }),
      writeFile(fifo, signer.export({ type: 'pkcs8', format: 'pem' }) as string),
    ]);
    return { certPem: stdout, key: privateKey, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
  }
}
