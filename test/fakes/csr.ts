import crypto from 'node:crypto';
import { seq, set, tlv, oid, bitString, octetString, smallInt, explicit, BOOLEAN_TRUE } from '../../src/x509/der.js';
import { OID } from '../../src/x509/oids.js';

/**
 * Builds PKCS#10 requests with node:crypto, independently of the CA's parser, so
 * tests and benchmarks can make thousands of them quickly and can make bad ones.
 */
export interface CsrOptions {
  keyType?: 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'ed25519' | 'rsa-1024';
  /** Ask for basicConstraints cA=TRUE in the extensionRequest attribute. */
  requestCa?: boolean;
  /** Flip a bit of the signature. */
  breakSignature?: boolean;
}

export function makeCsr(options: CsrOptions = {}): { der: Buffer; pem: string; privateKey: crypto.KeyObject } {
  const keyType = options.keyType ?? 'ec-p256';
  const { privateKey, publicKey } =
    keyType === 'ec-p256' || keyType === 'ec-p384'
      ? crypto.generateKeyPairSync('ec', { namedCurve: keyType === 'ec-p256' ? 'P-256' : 'P-384' })
      : keyType === 'ed25519'
        ? crypto.generateKeyPairSync('ed25519')
        : crypto.generateKeyPairSync('rsa', { modulusLength: keyType === 'rsa-1024' ? 1024 : 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const attributes = options.requestCa
    ? explicit(
        0,
        seq(
          oid(OID.extensionRequest),
          set(seq(seq(oid(OID.basicConstraints), BOOLEAN_TRUE, octetString(seq(Buffer.from([0x01, 0x01, 0xff])))))),
        ),
      )
    : explicit(0);
  const subject = seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from('workload')))));
  const info = seq(smallInt(0), subject, spki, attributes);
  const [algOid, hash] =
    keyType === 'ed25519' ? ['1.3.101.112', null] : keyType.startsWith('rsa') ? [OID.rsaSha256, 'sha256'] : [keyType === 'ec-p384' ? OID.ecdsaSha384 : OID.ecdsaSha256, keyType === 'ec-p384' ? 'sha384' : 'sha256'];
  const signature = crypto.sign(hash, info, privateKey);
  if (options.breakSignature) signature[signature.length - 2]! ^= 0x01;
  const der = seq(info, seq(oid(algOid!)), bitString(signature));
  const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
  return { der, pem, privateKey };
}
