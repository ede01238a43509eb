import crypto from 'node:crypto';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import type { Authority } from '../../src/ca/authority.js';
import type { AuthorityEvent } from '../../src/ca/types.js';
import { WcaError } from '../../src/errors.js';
import { makeCsr } from '../fakes/csr.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { opensslVerify, mutualTls, splitPem, isPkcs8Pem } from '../helpers/pki.js';
import { hasTools } from '../helpers/tools.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/cart';

let ca: Authority;
beforeAll(async () => {
  ca = await createDevAuthority({ signers: 2, maxLeafTtlSeconds: 12 * 3600, backdateSeconds: 30 });
});
afterAll(() => ca.close());

const leafOf = (chainPem: string) => new crypto.X509Certificate(splitPem(chainPem)[0]!);

describe('Authority: server-generated keys', () => {
  it.runIf(hasTools('openssl'))('issues an X.509-SVID that openssl accepts for server and client auth', async () => {
    const svid = await ca.issue({ spiffeId: ID, dnsNames: ['cart.shop.svc'], ttlSeconds: 600 });
    expect(splitPem(svid.chainPem)).toHaveLength(2);
    for (const purpose of ['sslserver', 'sslclient'] as const) {
      const r = await opensslVerify(svid.chainPem, ca.bundle().pem, purpose);
      expect(r.output).toContain('OK');
      expect(r.ok).toBe(true);
    }
    const key = crypto.createPrivateKey(svid.privateKeyPem);
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(isPkcs8Pem(svid.privateKeyPem)).toBe(true);
    expect(leafOf(svid.chainPem).checkPrivateKey(key)).toBe(true);
  });

  it.runIf(hasTools('openssl'))('follows the X509-SVID profile', async () => {
    const before = Date.now();
    const svid = await ca.issue({ spiffeId: ID, dnsNames: ['cart.shop.svc', 'cart'], ttlSeconds: 600 });
    const leaf = leafOf(svid.chainPem);
    expect(leaf.subjectAltName).toBe(`URI:${ID}, DNS:cart.shop.svc, DNS:cart`);
    expect(leaf.ca).toBe(false);
    expect(leaf.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    const serial = BigInt(`0x${leaf.serialNumber}`);
    expect(serial > 2n ** 64n).toBe(true);
    expect(leaf.serialNumber).toBe(svid.serial);
    const notBefore = Date.parse(leaf.validFrom);
    const notAfter = Date.parse(leaf.validTo);
    expect(before - notBefore).toBeGreaterThanOrEqual(29_000);
    expect(before - notBefore).toBeLessThan(35_000);
    expect(notAfter - before).toBeGreaterThan(590_000);
    expect(notAfter - before).toBeLessThanOrEqual(601_000);
    expect(svid.notAfter.getTime()).toBe(notAfter);
    const text = await import('node:child_process').then((cp) =>
      cp.execFileSync('openssl', ['x509', '-noout', '-text'], { input: splitPem(svid.chainPem)[0] }).toString(),
    );
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/Subject Alternative Name: critical/);
    expect(text).toMatch(/Subject Key Identifier/);
    expect(text).toMatch(/Authority Key Identifier/);
  });

  it.runIf(hasTools('openssl')).each([
    ['ec-p384', 'secp384r1'],
    ['rsa-2048', undefined],
  ] as const)('issues %s leaves', async (keyType, curve) => {
    const svid = await ca.issue({ spiffeId: ID, keyType });
    const key = crypto.createPrivateKey(svid.privateKeyPem);
    if (curve) expect(key.asymmetricKeyDetails?.namedCurve).toBe(curve);
    else expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect((await opensslVerify(svid.chainPem, ca.bundle().pem)).ok).toBe(true);
    if (keyType === 'rsa-2048') {
      const text = (await import('node:child_process')).execFileSync('openssl', ['x509', '-noout', '-ext', 'keyUsage'], { input: splitPem(svid.chainPem)[0] }).toString();
      expect(text).toMatch(/Digital Signature, Key Encipherment/);
    }
  });

  it('never repeats a serial or a key across many leaves', async () => {
    const svids = await Promise.all(Array.from({ length: 500 }, () => ca.issue({ spiffeId: ID })));
    expect(new Set(svids.map((s) => s.serial)).size).toBe(500);
    expect(new Set(svids.map((s) => s.privateKeyPem)).size).toBe(500);
  });
});

describe('Authority: CSR path', () => {
  it.runIf(hasTools('openssl')).each(['ec-p256', 'ec-p384', 'rsa-2048'] as const)('signs a %s CSR for the granted identity, keeping the key with the workload', async (keyType) => {
    const csr = makeCsr({ keyType });
    const cert = await ca.issueForCsr({ spiffeId: ID, csr: csr.pem, ttlSeconds: 300 });
    const leaf = leafOf(cert.chainPem);
    expect(leaf.checkPrivateKey(csr.privateKey)).toBe(true);
    // The CSR's own subject is ignored: the grant decides.
    expect(leaf.subjectAltName).toBe(`URI:${ID}`);
    expect((await opensslVerify(cert.chainPem, ca.bundle().pem, 'sslclient')).ok).toBe(true);
    expect(cert).not.toHaveProperty('privateKeyPem');
  });

  it('accepts DER CSRs', async () => {
    const cert = await ca.issueForCsr({ spiffeId: ID, csr: makeCsr().der });
    expect(leafOf(cert.chainPem).subjectAltName).toBe(`URI:${ID}`);
  });
});

describe('Authority: bad requests get typed errors and change nothing', () => {
  const cases: [string, () => Promise<unknown>, string, RegExp][] = [
    ['invalid SPIFFE ID', () => ca.issue({ spiffeId: 'spiffe://cluster.local/a//b' }), 'ERR_SPIFFE_ID_INVALID', /empty segments/],
    ['not a SPIFFE ID', () => ca.issue({ spiffeId: 'https://example.com' }), 'ERR_SPIFFE_ID_INVALID', /spiffe:\/\//],
    ['trust domain ID as a leaf', () => ca.issue({ spiffeId: 'spiffe://cluster.local' }), 'ERR_SPIFFE_ID_INVALID', /trust domain's own ID/],
    ['foreign trust domain', () => ca.issue({ spiffeId: 'spiffe://evil.local/x' }), 'ERR_TRUST_DOMAIN_MISMATCH', /not in trust domain/],
    ['TTL 0', () => ca.issue({ spiffeId: ID, ttlSeconds: 0 }), 'ERR_TTL_INVALID', /positive/],
    ['negative TTL', () => ca.issue({ spiffeId: ID, ttlSeconds: -5 }), 'ERR_TTL_INVALID', /positive/],
    ['NaN TTL', () => ca.issue({ spiffeId: ID, ttlSeconds: Number.NaN }), 'ERR_TTL_INVALID', /positive/],
    ['TTL above maximum', () => ca.issue({ spiffeId: ID, ttlSeconds: 13 * 3600 }), 'ERR_TTL_INVALID', /above the maximum/],
    ['unknown key type', () => ca.issue({ spiffeId: ID, keyType: 'dsa-1024' as never }), 'ERR_KEY_TYPE_UNSUPPORTED', /unknown key type "dsa-1024"/],
    ['bad DNS name', () => ca.issue({ spiffeId: ID, dnsNames: ['bad-.name'] }), 'ERR_DNS_NAME_INVALID', /"bad-.name": .*inner hyphens/],
    ['CSR with broken signature', () => ca.issueForCsr({ spiffeId: ID, csr: makeCsr({ breakSignature: true }).pem }), 'ERR_CSR_SIGNATURE', /does not verify/],
    ['CSR asking for a CA', () => ca.issueForCsr({ spiffeId: ID, csr: makeCsr({ requestCa: true }).pem }), 'ERR_CSR_REQUESTS_CA', /never CAs/],
    ['CSR garbage bytes', () => ca.issueForCsr({ spiffeId: ID, csr: crypto.randomBytes(300) }), 'ERR_CSR_INVALID', /not a valid PKCS#10/],
    ['CSR truncated', () => ca.issueForCsr({ spiffeId: ID, csr: makeCsr().der.subarray(0, 60) }), 'ERR_CSR_INVALID', /PKCS#10/],
    ['CSR PEM without a block', () => ca.issueForCsr({ spiffeId: ID, csr: 'hello' }), 'ERR_CSR_INVALID', /PEM/],
    ['CSR with Ed25519 key', () => ca.issueForCsr({ spiffeId: ID, csr: makeCsr({ keyType: 'ed25519' }).der }), 'ERR_KEY_TYPE_UNSUPPORTED', /not supported/],
    ['CSR with RSA-1024 key', () => ca.issueForCsr({ spiffeId: ID, csr: makeCsr({ keyType: 'rsa-1024' }).der }), 'ERR_KEY_TYPE_UNSUPPORTED', /at least 2048/],
    ['CSR too large', () => ca.issueForCsr({ spiffeId: ID, csr: Buffer.alloc(20_000, 0x30) }), 'ERR_CSR_INVALID', /limit/],
  ];

  it.each(cases)('%s', async (_name, call, code, message) => {
    const err = await call().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WcaError);
    expect((err as WcaError).code).toBe(code);
    expect((err as WcaError).message).toMatch(message);
    // The CA keeps working after every rejection.
    const svid = await ca.issue({ spiffeId: ID });
    expect(leafOf(svid.chainPem).subjectAltName).toBe(`URI:${ID}`);
  });
});

describe('Authority: lifetimes', () => {
  it('never lets a leaf outlive its intermediate', async () => {
    const clock = new FakeClock(Date.now());
    const short = await createDevAuthority({ clock, intermediateTtlSeconds: 3600, maxLeafTtlSeconds: 3000, signers: 1 });
    try {
      const intermediate = short.slotLifetimes().active!;
      clock.advance(2000_000);
      const svid = await short.issue({ spiffeId: ID, ttlSeconds: 3000 });
      expect(svid.notAfter.getTime()).toBeLessThanOrEqual(intermediate.notAfterMs);
      expect(Date.parse(leafOf(svid.chainPem).validTo)).toBe(Math.floor(intermediate.notAfterMs / 1000) * 1000);
      clock.advance(2000_000);
      await expect(short.issue({ spiffeId: ID })).rejects.toMatchObject({ code: 'ERR_CA_NOT_READY' });
    } finally {
      await short.close();
    }
  });
});

describe('Authority: intermediates and rotation slots', () => {
  it.runIf(hasTools('openssl')).each(['ec-p384', 'rsa-2048'] as const)('signs leaves with a %s intermediate', async (keyType) => {
    const other = await createDevAuthority({ keyType, signers: 1 });
    try {
      const svid = await other.issue({ spiffeId: ID });
      expect((await opensslVerify(svid.chainPem, other.bundle().pem)).ok).toBe(true);
      const intermediate = new crypto.X509Certificate(splitPem(svid.chainPem)[1]!);
      expect(intermediate.ca).toBe(true);
      expect(intermediate.subjectAltName).toBe('URI:spiffe://cluster.local');
      expect(intermediate.publicKey.asymmetricKeyType).toBe(keyType.startsWith('ec') ? 'ec' : 'rsa');
    } finally {
      await other.close();
    }
  });

  it.runIf(hasTools('openssl'))('prepares, activates and asks subscribers to re-issue leaves of the previous intermediate', async () => {
    const events: AuthorityEvent[] = [];
    const unsubscribe = ca.subscribe((e) => events.push(e));
    const before = await ca.issue({ spiffeId: ID });
    const bundleVersion = ca.bundle().version;
    await ca.prepareNext();
    expect(ca.slotLifetimes().next).toBeDefined();
    // Preparing changes nothing served.
    expect((await ca.issue({ spiffeId: ID })).caId).toBe(before.caId);
    ca.activateNext('test');
    const after = await ca.issue({ spiffeId: ID });
    expect(after.caId).not.toBe(before.caId);
    expect(events).toContainEqual({ type: 'reissue', caIds: [before.caId], reason: 'test' });
    // Same root: bundle unchanged, and both generations verify against it.
    expect(ca.bundle().version).toBe(bundleVersion);
    expect((await opensslVerify(before.chainPem, ca.bundle().pem)).ok).toBe(true);
    expect((await opensslVerify(after.chainPem, ca.bundle().pem)).ok).toBe(true);
    expect(ca.slotLifetimes().old?.id).toBe(before.caId);
    unsubscribe();
  });
});

describe('real TLS between issued SVIDs', () => {
  it('completes a mutual TLS handshake where each side sees the other SPIFFE ID', async () => {
    const server = await ca.issue({ spiffeId: 'spiffe://cluster.local/ns/shop/sa/server' });
    const client = await ca.issue({ spiffeId: 'spiffe://cluster.local/ns/shop/sa/client' });
    const bundlePem = ca.bundle().pem;
    const seen = await mutualTls({ ...server, bundlePem }, { ...client, bundlePem });
    expect(seen).toEqual({ serverSawClient: 'spiffe://cluster.local/ns/shop/sa/client', clientSawServer: 'spiffe://cluster.local/ns/shop/sa/server' });
  });

  it.runIf(hasTools('openssl'))('fails the handshake with a certificate from another root', async () => {
    const stranger = await createDevAuthority({ signers: 1 });
    try {
      const server = await ca.issue({ spiffeId: 'spiffe://cluster.local/server' });
      const client = await stranger.issue({ spiffeId: 'spiffe://cluster.local/client' });
      await expect(
        mutualTls({ ...server, bundlePem: ca.bundle().pem }, { ...client, bundlePem: stranger.bundle().pem }),
      ).rejects.toThrow();
      expect((await opensslVerify(client.chainPem, ca.bundle().pem)).ok).toBe(false);
    } finally {
      await stranger.close();
    }
  });
});
