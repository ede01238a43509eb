import { children, expectTag, readTlv } from './der-reader.js';
import { oid } from './der.js';
import { OID } from './oids.js';

const LINEAGE_OID = oid(OID.wcaLineageStart);
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

/**
 * The wcaLineageStart extension of a certificate of ours (ms since the epoch), or
 * undefined when it has none (leaves from before the extension). Read with the DER
 * reader, because X509Certificate does not expose unknown extensions.
 * Throws RangeError on malformed DER.
 */
export function lineageStartOf(certDer: Uint8Array): number | undefined {
  const cert = expectTag(readTlv(certDer, 0), 0x30, 'Certificate');
  const tbs = expectTag(children(certDer, cert)[0], 0x30, 'TBSCertificate');
  const extensions = children(certDer, tbs).find((t) => t.tag === 0xa3);
  if (!extensions) return undefined;
  for (const extension of children(certDer, expectTag(children(certDer, extensions)[0], 0x30, 'Extensions'))) {
    const fields = children(certDer, extension);
    const id = expectTag(fields[0], 0x06, 'extnID');
    if (!Buffer.from(certDer.subarray(id.start, id.end)).equals(LINEAGE_OID)) continue;
    const value = expectTag(fields[fields.length - 1], 0x04, 'extnValue');
    const time = expectTag(readTlv(certDer, value.contentStart, value.end), 0x18, 'lineage GeneralizedTime');
    const m = GENERALIZED_TIME.exec(Buffer.from(certDer.subarray(time.contentStart, time.end)).toString('latin1'));
    if (!m) throw new RangeError('lineage start is not a GeneralizedTime YYYYMMDDHHMMSSZ');
    return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  return undefined;
}
