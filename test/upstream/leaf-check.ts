/**
 * End-to-end proof for a minted intermediate: issue leaves under it, have
 * `openssl verify -x509_strict -purpose sslserver` check the whole path to the
 * root, and complete a real mutual TLS handshake with them (both checks from
 * test/helpers/pki.ts). Shared by the plugin tests; leaves are signed here with
 * @peculiar/x509 because the core's Authority is not part of these tests.
 */
import * as x509 from '@peculiar/x509';
import { generateTestKeys, privateKeyPem } from '../fakes/upstream-ca.js';
import { mutualTls, opensslVerify, type TlsIdentity } from '../helpers/pki.js';

export interface TestLeaf {
  certPem: string;
  keyPem: string;
}

/** A leaf for `spiffeId` signed by the intermediate `caKeys`/`caCertPem`. */
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
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  return { certPem: `${cert.toString('pem')}\n`, keyPem: await privateKeyPem(keys) };
}

/**
 * Everything the issue asks of a minted intermediate, in one call: two leaves
 * under it (spiffe://<td>/server and spiffe://<td>/client), the server's passes
 * openssl verify (rejects otherwise, with openssl's output), and both complete a
 * mutual TLS handshake trusting only the roots. Resolves with openssl's output
 * and the SPIFFE ID each side of the handshake saw.
 */
export async function provesEndToEnd(
  caKeys: CryptoKeyPair,
  validated: { chainPem: string[]; rootsPem: string[] },
  trustDomain: string,
): Promise<{ opensslOutput: string; serverSawClient: string; clientSawServer: string }> {
  const [intermediatePem] = validated.chainPem;
  const identity = async (name: string): Promise<TlsIdentity> => {
    const leaf = await issueTestLeaf(caKeys, intermediatePem!, `spiffe://${trustDomain}/${name}`);
    return { chainPem: leaf.certPem + validated.chainPem.join(''), privateKeyPem: leaf.keyPem, bundlePem: validated.rootsPem.join('') };
  };
  const server = await identity('server');
  const client = await identity('client');
  const verified = await opensslVerify(server.chainPem, server.bundlePem, 'sslserver');
  if (!verified.ok) throw new Error(`openssl verify rejected the leaf: ${verified.output}`);
  return { opensslOutput: verified.output, ...(await mutualTls(server, client)) };
}
