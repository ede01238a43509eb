import crypto from 'node:crypto';
import { readTlv, children, expectTag, oidString, bytesOf, wholeOf } from './der-reader.js';
import { signatureAlgorithmFor } from './keys.js';
import { OID } from './oids.js';
import type { LeafCaProfile } from './leaf.js';
import { WcaError } from '../errors.js';

/** Extracts what every leaf needs from its signing CA's certificate, once per CA. */
export function leafCaProfile(caCertDer: Buffer, caKey: crypto.KeyObject): LeafCaProfile & { hash: 'sha256' | 'sha384' } {
  try {
    const cert = expectTag(readTlv(caCertDer, 0), 0x30, 'Certificate');
    const tbs = children(caCertDer, cert)[0]!;
    const fields = children(caCertDer, tbs);
    const offset = fields[0]!.tag === 0xa0 ? 1 : 0;
    const subject = fields[offset + 4]!;
    const spki = fields[offset + 5]!;
    let caKeyId: Buffer | undefined;
    const extsWrapper = fields.find((f) => f.tag === 0xa3);
    if (extsWrapper) {
      for (const e of children(caCertDer, children(caCertDer, extsWrapper)[0]!)) {
        const parts = children(caCertDer, e);
        if (oidString(caCertDer, parts[0]!) === OID.subjectKeyIdentifier) {
          const value = parts[parts.length - 1]!;
          caKeyId = Buffer.from(bytesOf(caCertDer, readTlv(caCertDer, value.contentStart, value.end)));
        }
      }
    }
    if (!caKeyId) {
      const bits = bytesOf(caCertDer, children(caCertDer, spki)[1]!).subarray(1);
      caKeyId = crypto.createHash('sha1').update(bits).digest();
    }
    const { hash, algIdDer } = signatureAlgorithmFor(caKey);
    return { issuerDer: Buffer.from(wholeOf(caCertDer, subject)), caKeyId, signatureAlgDer: algIdDer, hash };
  } catch (err) {
    throw new WcaError('ERR_CERT_PARSE', `CA certificate cannot be parsed: ${(err as Error).message}`);
  }
}
