/**
 * Fuzzing the CSR parser (src/x509/csr.ts over src/x509/der-reader.ts): random
 * bytes, random DER/BER trees, mutated real CSRs and CSRs assembled from hostile
 * parts. Every outcome is a parsed key that Node re-exports byte for byte (so it
 * is canonical DER) or a documented CSR error; never a crash.
 */
import crypto from 'node:crypto';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import { csrToDer, parseAndVerifyCsr, type ParsedCsr } from '../../src/x509/csr.js';
import { derLength, seq, set, tlv, oid, smallInt, explicit, uint, NULL, octetString, BOOLEAN_TRUE } from '../../src/x509/der.js';
import { OID } from '../../src/x509/oids.js';
import { makeCsr } from '../fakes/csr.js';
import { fuzzOptions, mutate, mutation, settles } from './fuzz.js';

const CSR_ERRORS: readonly ErrorCode[] = ['ERR_CSR_INVALID', 'ERR_CSR_SIGNATURE', 'ERR_CSR_REQUESTS_CA', 'ERR_KEY_TYPE_UNSUPPORTED'];

/** A parsed key must be canonical DER: Node decodes it and re-encodes the very same bytes. */
function checkParsed(parsed: ParsedCsr | undefined): void {
  if (!parsed) return;
  const key = crypto.createPublicKey({ key: parsed.spkiDer, format: 'der', type: 'spki' });
  if (!key.export({ type: 'spki', format: 'der' }).equals(parsed.spkiDer)) throw new Error('accepted CSR key is not canonical DER');
  if (key.asymmetricKeyType !== parsed.keyKind) throw new Error(`key kind ${parsed.keyKind} but Node sees ${key.asymmetricKeyType}`);
  const details = key.asymmetricKeyDetails!;
  if (parsed.keyKind === 'rsa' && (details.modulusLength! < 2048 || details.publicExponent! < 3n || details.publicExponent! % 2n === 0n)) {
    throw new Error(`accepted a weak RSA key (${details.modulusLength} bits, e = ${details.publicExponent})`);
  }
}

const parse = async (der: Uint8Array) => checkParsed(await settles(() => parseAndVerifyCsr(Buffer.from(der)), CSR_ERRORS));

/** A TLV with the length in short or (non-DER) long form. */
function encode(tag: number, content: Buffer, longForm: boolean): Buffer {
  const length = longForm ? Buffer.from([0x82, content.length >> 8, content.length & 0xff]) : derLength(content.length);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

const primitiveTag = fc.constantFrom(0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x17, 0x80, 0x86, 0x1f);
const constructedTag = fc.constantFrom(0x30, 0x31, 0xa0, 0xa3);
const knownOid = fc.constantFrom(...Object.values(OID), '1.3.101.112', '2.5.4.3', '1.2.840.113549.1.1.10');

const derTree: fc.Arbitrary<Buffer> = fc.letrec<{ node: Buffer }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(primitiveTag, fc.uint8Array({ maxLength: 80 }), fc.boolean()).map(([t, c, l]) => encode(t, Buffer.from(c), l)),
    knownOid.map((o) => oid(o)),
    fc.tuple(constructedTag, fc.array(tie('node'), { maxLength: 5 }), fc.boolean()).map(([t, kids, l]) => encode(t, Buffer.concat(kids), l)),
  ),
})).node;

const ecKeys = [crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }), crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' })];
const rsaKeys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const realCsrs = [makeCsr(), makeCsr({ keyType: 'ec-p384' }), makeCsr({ keyType: 'rsa-2048' }), makeCsr({ requestCa: true }), makeCsr({ keyType: 'ed25519' })].map((c) => c.der);

const signers = [
  { key: ecKeys[0]!, hash: 'sha256', sigAlg: seq(oid(OID.ecdsaSha256)) },
  { key: ecKeys[1]!, hash: 'sha384', sigAlg: seq(oid(OID.ecdsaSha384)) },
  { key: rsaKeys, hash: 'sha256', sigAlg: seq(oid(OID.rsaSha256), NULL) },
];

/** Mostly right, sometimes hostile: each part is the coherent choice or an attacker's. */
const often = <T>(coherent: T, hostile: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(coherent), weight: 3 }, { arbitrary: hostile, weight: 1 });

/** A CertificationRequest from parts an attacker picks, signed with a real key unless told otherwise. */
const assembled = fc.constantFrom(...signers).chain((signer) => {
  const spki = signer.key.publicKey.export({ type: 'spki', format: 'der' });
  return fc
    .record({
      version: often(0, fc.integer({ min: -2, max: 300 })),
      spki: often(
        spki,
        fc.oneof(
          // The real key with its outer length in BER long form: accepted, but re-encoded.
          fc.constant(encode(0x30, spki.subarray(spki[1]! & 0x80 ? 2 + (spki[1]! & 0x7f) : 2), true)),
          fc
            .record({ n: fc.uint8Array({ minLength: 1, maxLength: 300 }), e: fc.uint8Array({ maxLength: 40 }), params: fc.constantFrom(NULL, Buffer.alloc(0), oid(OID.p256)) })
            .map(({ n, e, params }) => seq(seq(oid(OID.rsaEncryption), params), tlv(0x03, Buffer.from([0]), seq(uint(n), tlv(0x02, e))))),
          fc
            .record({ curve: knownOid, point: fc.uint8Array({ maxLength: 100 }) })
            .map(({ curve, point }) => seq(seq(oid(OID.ecPublicKey), oid(curve)), tlv(0x03, Buffer.from([0]), point))),
          derTree,
        ),
      ),
      attributes: often(
        explicit(0),
        fc.oneof(
          derTree.map((t) => explicit(0, t)),
          fc.boolean().map((critical) =>
            explicit(0, seq(oid(OID.extensionRequest), set(seq(seq(oid(OID.basicConstraints), ...(critical ? [BOOLEAN_TRUE] : []), octetString(seq(BOOLEAN_TRUE))))))),
          ),
        ),
      ),
      sigAlg: often(signer.sigAlg, fc.tuple(knownOid, fc.constantFrom([], [NULL], [oid(OID.p256)])).map(([o, params]) => seq(oid(o), ...params))),
      hash: often(signer.hash, fc.constantFrom('sha256', 'sha384', 'sha512')),
      garbageSignature: often(false, fc.constant(true)),
      unusedBits: often(0, fc.constantFrom(1, 7)),
    })
    .map(({ version, spki, attributes, sigAlg, hash, garbageSignature, unusedBits }) => {
      const subject = seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from('fuzz')))));
      const info = seq(version >= 0 && version < 128 ? smallInt(version) : tlv(0x02, Buffer.from([version & 0xff, 1])), subject, spki, attributes);
      const signature = garbageSignature ? crypto.randomBytes(64) : crypto.sign(hash, info, signer.key.privateKey);
      return seq(info, sigAlg, tlv(0x03, Buffer.from([unusedBits]), signature));
    });
});

describe('fuzz: CSR parser', () => {
  it('random bytes', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), parse), fuzzOptions(1500));
  });

  it('random DER and BER trees', async () => {
    await fc.assert(fc.asyncProperty(derTree, parse), fuzzOptions(1500));
  });

  it('mutated real CSRs (EC P-256/P-384, RSA, CA-requesting, Ed25519)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...realCsrs), fc.array(mutation, { minLength: 1, maxLength: 4 }), (csr, mutations) => parse(mutate(csr, mutations))),
      fuzzOptions(1500),
    );
  });

  it('CSRs assembled from hostile parts, some really signed', async () => {
    await fc.assert(fc.asyncProperty(assembled, parse), fuzzOptions(800));
  });

  it('PEM and DER input of any shape', async () => {
    const pemish = fc.oneof(
      fc.string({ maxLength: 400 }),
      fc.tuple(fc.string({ maxLength: 40 }), fc.base64String({ maxLength: 400 }), fc.string({ maxLength: 40 })).map(
        ([a, b, c]) => `${a}-----BEGIN CERTIFICATE REQUEST-----\n${b}\n-----END CERTIFICATE REQUEST-----${c}`,
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(pemish, fc.uint8Array({ maxLength: 300 })), async (input) => {
        const der = await settles(() => csrToDer(input), CSR_ERRORS);
        if (der) await parse(der);
      }),
      fuzzOptions(800),
    );
  });
});
