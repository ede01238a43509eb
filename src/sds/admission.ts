import { WcaError } from '../errors.js';

export interface AdmissionLimits {
  /** Authenticated streams per server. */
  readonly streamsMax: number;
  /** Streams, authenticated or not, per peer address. */
  readonly streamsPerAddress: number;
}

/**
 * Which SDS streams may open, and which count toward the server-wide limit.
 * A stream counts against its peer address from the moment it opens, and toward
 * the server-wide limit only once its caller is authenticated: otherwise callers
 * with no credential at all could fill the server-wide limit with idle streams
 * and lock every Envoy out. Idle streams are bounded per address here and in
 * time by the first-request deadline (session.ts).
 */
export class StreamAdmission {
  private readonly perAddress = new Map<string, number>();
  private authenticatedCount = 0;

  constructor(private readonly limits: AdmissionLimits) {}

  get authenticated(): number {
    return this.authenticatedCount;
  }

  /** Counts a new stream from `address`; throws ERR_SDS_LIMIT when that address already holds its maximum. */
  open(address: string): void {
    const held = this.perAddress.get(address) ?? 0;
    if (held >= this.limits.streamsPerAddress) {
      throw new WcaError('ERR_SDS_LIMIT', `peer address ${address} already holds ${held} SDS streams (sds.maxStreamsPerAddress)`, {
        details: { reason: 'streams-per-address', limit: this.limits.streamsPerAddress },
      });
    }
    this.perAddress.set(address, held + 1);
  }

  /** Counts an open stream whose caller is now authenticated; throws ERR_SDS_LIMIT when the server holds its maximum. */
  authenticate(): void {
    if (this.authenticatedCount >= this.limits.streamsMax) {
      throw new WcaError('ERR_SDS_LIMIT', `the server already holds ${this.authenticatedCount} authenticated SDS streams (sds.maxStreams)`, {
        details: { reason: 'streams', limit: this.limits.streamsMax },
      });
    }
    this.authenticatedCount++;
  }

  /** The stream from `address` ended; `authenticated` says whether authenticate() had counted it. */
  close(address: string, authenticated: boolean): void {
    if (authenticated) this.authenticatedCount--;
    const held = this.perAddress.get(address) ?? 0;
    if (held <= 1) this.perAddress.delete(address);
    else this.perAddress.set(address, held - 1);
  }
}

/** The address part of a grpc-js peer ("10.0.0.7:51234", "[::1]:51234"): one host opening many connections is one address. */
export function peerHost(peer: string): string {
  const colon = peer.lastIndexOf(':');
  return colon > 0 && /^\d+$/.test(peer.slice(colon + 1)) ? peer.slice(0, colon) : peer;
}
