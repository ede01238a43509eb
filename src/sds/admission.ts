import { WcaError } from '../errors.js';

export interface AdmissionLimits {
  /** Authenticated streams per server. */
  readonly streamsMax: number;
  /** Streams, authenticated or not, per peer address (an IPv6 /64 counts as one). */
  readonly streamsPerAddress: number;
  /** Streams not yet authenticated, per server. */
  readonly pendingMax: number;
}

/**
 * Which SDS streams may open, and which count toward the server-wide limit.
 * A stream counts against its peer address from the moment it opens, and toward
 * the server-wide limit only once its caller is authenticated: otherwise callers
 * with no credential at all could fill the server-wide limit with idle streams
 * and lock every Envoy out. Streams not yet authenticated have their own
 * server-wide limit (each holds memory, and many addresses are cheap to come by),
 * are bounded per address here and in time by the first-request deadline
 * (session.ts). Envoy authenticates with its first request, so its streams are
 * pending for a moment only.
 */
export class StreamAdmission {
  private readonly perAddress = new Map<string, number>();
  private authenticatedCount = 0;
  private pendingCount = 0;

  constructor(private readonly limits: AdmissionLimits) {}

  get authenticated(): number {
    return this.authenticatedCount;
  }

  get pending(): number {
    return this.pendingCount;
  }

  /**
   * Counts a new, not yet authenticated stream from `address` (see addressGroup);
   * throws ERR_SDS_LIMIT when the server holds its maximum of such streams or that
   * address its maximum of streams.
   */
  open(address: string): void {
    if (this.pendingCount >= this.limits.pendingMax) {
      throw new WcaError('ERR_SDS_LIMIT', `the server already holds ${this.pendingCount} SDS streams not yet authenticated (sds.maxPendingStreams)`, {
        details: { reason: 'pending-streams', limit: this.limits.pendingMax },
      });
    }
    const held = this.perAddress.get(address) ?? 0;
    if (held >= this.limits.streamsPerAddress) {
      throw new WcaError('ERR_SDS_LIMIT', `peer address ${address} already holds ${held} SDS streams (sds.maxStreamsPerAddress)`, {
        details: { reason: 'streams-per-address', limit: this.limits.streamsPerAddress },
      });
    }
    this.perAddress.set(address, held + 1);
    this.pendingCount++;
  }

  /** Counts an open stream whose caller is now authenticated; throws ERR_SDS_LIMIT when the server holds its maximum. */
  authenticate(): void {
    if (this.authenticatedCount >= this.limits.streamsMax) {
      throw new WcaError('ERR_SDS_LIMIT', `the server already holds ${this.authenticatedCount} authenticated SDS streams (sds.maxStreams)`, {
        details: { reason: 'streams', limit: this.limits.streamsMax },
      });
    }
    this.authenticatedCount++;
    this.pendingCount--;
  }

  /** The stream from `address` ended; `authenticated` says whether authenticate() had counted it. */
  close(address: string, authenticated: boolean): void {
    if (authenticated) this.authenticatedCount--;
    else this.pendingCount--;
    const held = this.perAddress.get(address) ?? 0;
    if (held <= 1) this.perAddress.delete(address);
    else this.perAddress.set(address, held - 1);
  }
}
