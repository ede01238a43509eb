/**
 * Minimal DER writer for the hot path: byte concatenation over pre-encoded parts,
 * no object model. Only what leaf certificates and PKCS#8 keys need.
 */

export function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  if (length < 0x100) return Buffer.from([0x81, length]);
  if (length < 0x10000) return Buffer.from([0x82, length >> 8, length & 0xff]);
  return Buffer.from([0x83, length >> 16, (length >> 8) & 0xff, length & 0xff]);
}

export function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  let length = 0;
  for (const p of parts) length += p.length;
  return Buffer.concat([Buffer.from([tag]), derLength(length), ...parts]);
}

export const seq = (...parts: Uint8Array[]) => tlv(0x30, ...parts);
export const set = (...parts: Uint8Array[]) => tlv(0x31, ...parts);
export const octetString = (bytes: Uint8Array) => tlv(0x04, bytes);
/** BIT STRING with no unused bits. */
export const bitString = (bytes: Uint8Array) => tlv(0x03, Buffer.from([0]), bytes);
export const explicit = (n: number, ...parts: Uint8Array[]) => tlv(0xa0 + n, ...parts);
export const BOOLEAN_TRUE = Buffer.from([0x01, 0x01, 0xff]);
export const NULL = Buffer.from([0x05, 0x00]);

/** Unsigned big-endian integer as a DER INTEGER (minimal, positive). */
export function uint(bytes: Uint8Array): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = Buffer.from(bytes.subarray(i));
  return trimmed[0]! & 0x80 ? tlv(0x02, Buffer.from([0]), trimmed) : tlv(0x02, trimmed);
}

export function smallInt(n: number): Buffer {
  return uint(Buffer.from([n]));
}

export function oid(dotted: string): Buffer {
  // BigInt: UUID arcs (2.25.<128-bit>) exceed 32 bits. OIDs are encoded once per CA, never per leaf.
  const arcs = dotted.split('.').map(BigInt);
  const out: number[] = [Number(arcs[0]! * 40n + arcs[1]!)];
  for (const arc of arcs.slice(2)) {
    const stack = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) stack.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...stack);
  }
  return tlv(0x06, Buffer.from(out));
}

/** GeneralizedTime at seconds precision ("YYYYMMDDHHMMSSZ", always 17 bytes DER). */
export function generalizedTime(ms: number): Buffer {
  const iso = new Date(Math.floor(ms / 1000) * 1000).toISOString();
  return tlv(0x18, Buffer.from(`${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`, 'latin1'));
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; seconds precision, Z. */
export function time(ms: number): Buffer {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const y = d.getUTCFullYear();
  const rest = `${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}${pad2(d.getUTCSeconds())}Z`;
  return y < 2050 ? tlv(0x17, Buffer.from(`${pad2(y % 100)}${rest}`, 'latin1')) : tlv(0x18, Buffer.from(`${y}${rest}`, 'latin1'));
}

/** PEM armour with 64-character lines. */
export function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** Splits a PEM string into the DER of each block with the given label. */
export function pemBlocks(text: string, label = 'CERTIFICATE'): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}
