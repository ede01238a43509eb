import { children, expectTag, readTlv, type Tlv } from './der-reader.js';
import { LINEAGE_ID_LENGTH } from './leaf.js';
import { oid } from './der.js';
import { OID } from './oids.js';

const LINEAGE_OID = oid(OID.wcaLineageStart);
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

export interface Lineage {
  /** When it began, ms since the epoch. */
  startMs: number;
  /** Which lineage; absent in leaves from before the id was added. */
  id?: Buffer;
}

/**
 * The wcaLineageStart extension of a certificate of ours, or undefined when it has
 * none (leaves from before the extension). Read with the DER reader, because
 * X509Certificate does not expose unknown extensions. Throws RangeError on
 * malformed DER.
 */
export function lineageOf(certDer: Uint8Array): Lineage | undefined {
  const cert = expectTag(readTlv(certDer, 0), 0x30, 'Certificate');
  const tbs = expectTag(children(certDer, cert)[0], 0x30, 'TBSCertificate');
  const extensions = children(certDer, tbs).find((t) => t.tag === 0xa3);
  if (!extensions) return undefined;
  for (const extension of children(certDer, expectTag(children(certDer, extensions)[0], 0x30, 'Extensions'))) {
    const fields = children(certDer, extension);
    const id = expectTag(fields[0], 0x06, 'extnID');
    if (!Buffer.from(certDer.subarray(id.start, id.end)).equals(LINEAGE_OID)) continue;
    const value = expectTag(fields[fields.length - 1], 0x04, 'extnValue');
    const outer = readTlv(certDer, value.contentStart, value.end);
    // Older leaves: the bare start time. Current ones: SEQUENCE { start, id }.
    if (outer.tag === 0x18) return { startMs: timeOf(certDer, outer) };
    const [time, lineageId, ...rest] = children(certDer, expectTag(outer, 0x30, 'lineage'));
    const idTlv = expectTag(lineageId, 0x04, 'lineage id');
    if (rest.length > 0 || idTlv.end - idTlv.contentStart !== LINEAGE_ID_LENGTH) throw new RangeError('lineage is not SEQUENCE { GeneralizedTime, OCTET STRING (16) }');
    return { startMs: timeOf(certDer, expectTag(time, 0x18, 'lineage GeneralizedTime')), id: Buffer.from(certDer.subarray(idTlv.contentStart, idTlv.end)) };
  }
  return undefined;
}

/** The lineage start alone (see lineageOf). */
export function lineageStartOf(certDer: Uint8Array): number | undefined {
  return lineageOf(certDer)?.startMs;
}

function timeOf(der: Uint8Array, time: Tlv): number {
  const m = GENERALIZED_TIME.exec(Buffer.from(der.subarray(time.contentStart, time.end)).toString('latin1'));
  if (!m) throw new RangeError('lineage start is not a GeneralizedTime YYYYMMDDHHMMSSZ');
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}
