import crypto from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { encodeLeafTbs, encodeLeafTbsGeneric, randomSerial, type LeafCaProfile } from '../../src/x509/leaf.js';
import { generateLeafKey } from '../../src/x509/keys.js';
import { time, pem, pemBlocks, uint } from '../../src/x509/der.js';
import { seq, oid } from '../../src/x509/der.js';
import { OID } from '../../src/x509/oids.js';

const profile: LeafCaProfile = {
  issuerDer: seq(),
  caKeyId: crypto.randomBytes(20),
  signatureAlgDer: seq(oid(OID.ecdsaSha256)),
};

describe('leaf TBS template', () => {
  const keys = { ec: generateLeafKey('ec-p256'), ec384: generateLeafKey('ec-p384'), rsa: generateLeafKey('rsa-2048') };
  const now = Date.UTC(2026, 10, 25, 12, 0, 0);
  it.each([
    ['P-256, no DNS', keys.ec, [] as string[], false],
    ['P-384, one DNS', keys.ec384, ['a.example.com'], false],
    ['RSA, 32 DNS names (long lengths)', keys.rsa, Array.from({ length: 32 }, (_, i) => `host-${i}.a-fairly-long-domain.example.com`), true],
  ])('is byte-identical to the straightforward encoding: %s', (_n, key, dnsNames, rsa) => {
    for (let i = 0; i < 20; i++) {
      const fields = {
        serial: randomSerial(),
        notBeforeMs: now - 30_000 + i,
        notAfterMs: now + 3600_000 * (i + 1),
        lineageStartMs: now - 86400_000 * i,
        lineageId: crypto.randomBytes(16),
        spkiDer: key.spkiDer,
        publicKeyBits: key.publicKeyBits,
        spiffeId: `spiffe://cluster.local/ns/n${i}/sa/${'x'.repeat(i * 10)}`,
        dnsNames,
        rsa,
      };
      expect(encodeLeafTbs(profile, fields).equals(encodeLeafTbsGeneric(profile, fields))).toBe(true);
    }
  });

  it('switches to GeneralizedTime from 2050 (RFC 5280 4.1.2.5)', () => {
    expect(time(Date.UTC(2049, 11, 31, 23, 59, 59))[0]).toBe(0x17);
    expect(time(Date.UTC(2050, 0, 1))[0]).toBe(0x18);
    const fields = {
      serial: randomSerial(),
      notBeforeMs: Date.UTC(2049, 11, 31),
      notAfterMs: Date.UTC(2050, 0, 2),
      lineageStartMs: Date.UTC(2049, 0, 1),
      lineageId: Buffer.alloc(16, 1),
      spkiDer: keys.ec.spkiDer,
      publicKeyBits: keys.ec.publicKeyBits,
      spiffeId: 'spiffe://td/x',
      dnsNames: [],
      rsa: false,
    };
    expect(encodeLeafTbs(profile, fields).equals(encodeLeafTbsGeneric(profile, fields))).toBe(true);
  });

  it('rejects serials that would not be positive 16-byte integers', () => {
    const base = { notBeforeMs: now, notAfterMs: now + 1000, lineageStartMs: now, lineageId: Buffer.alloc(16), spkiDer: keys.ec.spkiDer, publicKeyBits: keys.ec.publicKeyBits, spiffeId: 'spiffe://td/x', dnsNames: [], rsa: false };
    expect(() => encodeLeafTbs(profile, { ...base, serial: Buffer.alloc(16, 0xff) })).toThrow(RangeError);
    expect(() => encodeLeafTbs(profile, { ...base, serial: Buffer.alloc(8, 0x40) })).toThrow(RangeError);
  });

  it('random serials are positive, 16 bytes and distinct', () => {
    const serials = Array.from({ length: 1000 }, randomSerial);
    for (const s of serials) expect(s[0]! >> 6).toBe(1);
    expect(new Set(serials.map((s) => s.toString('hex'))).size).toBe(1000);
  });
});

describe('hand-built key encodings', () => {
  it.each(['ec-p256', 'ec-p384'] as const)('%s PKCS#8 and SPKI load in OpenSSL and match', (type) => {
    const k = generateLeafKey(type);
    const priv = crypto.createPrivateKey({ key: k.pkcs8Der, format: 'der', type: 'pkcs8' });
    const pub = crypto.createPublicKey({ key: k.spkiDer, format: 'der', type: 'spki' });
    expect(crypto.createPublicKey(priv).export({ type: 'spki', format: 'der' }).equals(k.spkiDer)).toBe(true);
    const sig = crypto.sign('sha256', Buffer.from('x'), priv);
    expect(crypto.verify('sha256', Buffer.from('x'), pub, sig)).toBe(true);
  });
});

describe('DER helpers', () => {
  it('encodes minimal positive integers', () => {
    expect(uint(Buffer.from([0x00, 0x00, 0x05])).toString('hex')).toBe('020105');
    expect(uint(Buffer.from([0x80])).toString('hex')).toBe('02020080');
  });
  it('round-trips PEM', () => {
    const der = crypto.randomBytes(500);
    const text = pem('CERTIFICATE', der);
    expect(text.split('\n').every((l) => l.length <= 64)).toBe(true);
    expect(pemBlocks(text)[0]!.equals(der)).toBe(true);
  });
});

describe('lineage extension', () => {
  it('round-trips start and id through a signed leaf that OpenSSL parses, non-critical; a new lineage gets a random id', async () => {
    const { createDevAuthority } = await import('../../src/app/dev-authority.js');
    const { lineageOf } = await import('../../src/x509/lineage.js');
    const authority = await createDevAuthority({ signers: 1 });
    try {
      const started = Date.UTC(2026, 0, 2, 3, 4, 5);
      const id = crypto.randomBytes(16);
      const read = async (request: { lineageStartMs?: number; lineageId?: Uint8Array }) => {
        const svid = await authority.issue({ spiffeId: 'spiffe://cluster.local/x', ...request });
        const der = pemBlocks(svid.chainPem)[0]!;
        expect(new crypto.X509Certificate(der).subjectAltName).toBe('URI:spiffe://cluster.local/x');
        return lineageOf(der)!;
      };
      expect(await read({ lineageStartMs: started, lineageId: id })).toEqual({ startMs: started, id });
      const fresh = [await read({}), await read({ lineageId: Buffer.alloc(3) })];
      for (const lineage of fresh) {
        expect(Math.abs(lineage.startMs - Date.now())).toBeLessThan(60_000);
        expect(lineage.id).toHaveLength(16);
      }
      expect(fresh[0]!.id!.equals(fresh[1]!.id!)).toBe(false);
    } finally {
      await authority.close();
    }
  });

  it('reads the bare start time of leaves from before the id', async () => {
    const { lineageOf } = await import('../../src/x509/lineage.js');
    const { generalizedTime, octetString, explicit, tlv } = await import('../../src/x509/der.js');
    const started = Date.UTC(2026, 0, 2, 3, 4, 5);
    const extension = seq(oid(OID.wcaLineageStart), octetString(generalizedTime(started)));
    const cert = seq(seq(explicit(3, seq(extension))), seq(), tlv(0x03, Buffer.from([0])));
    expect(lineageOf(cert)).toEqual({ startMs: started });
  });
});
