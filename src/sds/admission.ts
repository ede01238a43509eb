import net from 'node:net';
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

/** The address part of a grpc-js peer ("10.0.0.7:51234", "2001:db8::7:51234"): one host opening many connections is one address. */
export function peerHost(peer: string): string {
  const colon = peer.lastIndexOf(':');
  return colon > 0 && /^\d+$/.test(peer.slice(colon + 1)) ? peer.slice(0, colon) : peer;
}

/**
 * What per-address limits count a peer under: its IPv4 address, or the /64 of its
 * IPv6 address (one host is routinely given a whole /64, so counting single
 * addresses would let it multiply its allowance by 2^64). Anything else (a Unix
 * socket path) is its own group.
 */
export function addressGroup(peer: string): string {
  const host = peerHost(peer).replace(/^\[(.*)\]$/, '$1');
  if (net.isIPv6(host) && !/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(host)) return `${ipv6Prefix64(host)}::/64`;
  return host;
}

/** The first four 16-bit groups of a valid IPv6 address ("::" expanded), lower-case hex without leading zeros. */
function ipv6Prefix64(address: string): string {
  const [head = '', tail] = address.toLowerCase().split('::');
  const front = head === '' ? [] : head.split(':');
  const back = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? front : [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
  return groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':');
}
