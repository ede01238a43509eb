/** Minimal DER reader for parsing CSRs on the hot path. Throws RangeError on malformed input. */

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the content. */
  end: number;
}

export function readTlv(buf: Uint8Array, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw new RangeError('truncated DER');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new RangeError('multi-byte tags are not supported');
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3) throw new RangeError('unsupported DER length');
    if (p + n > limit) throw new RangeError('truncated DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | buf[p + i]!;
    p += n;
  }
  if (p + len > limit) throw new RangeError('DER content runs past its container');
  return { tag, start: offset, contentStart: p, end: p + len };
}

/** Children of a constructed TLV. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.contentStart; p < parent.end; ) {
    const child = readTlv(buf, p, parent.end);
    out.push(child);
    p = child.end;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new RangeError(`${what}: expected tag 0x${tag.toString(16)}`);
  return t;
}

export function oidString(buf: Uint8Array, t: Tlv): string {
  expectTag(t, 0x06, 'OID');
  const bytes = buf.subarray(t.contentStart, t.end);
  if (bytes.length === 0) throw new RangeError('empty OID');
  const arcs: number[] = [Math.floor(bytes[0]! / 40), bytes[0]! % 40];
  let v = 0;
  for (let i = 1; i < bytes.length; i++) {
    v = v * 128 + (bytes[i]! & 0x7f);
    if (!(bytes[i]! & 0x80)) {
      arcs.push(v);
      v = 0;
    }
  }
  return arcs.join('.');
}

export const bytesOf = (buf: Uint8Array, t: Tlv) => buf.subarray(t.contentStart, t.end);
export const wholeOf = (buf: Uint8Array, t: Tlv) => buf.subarray(t.start, t.end);
