import net from 'node:net';

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
  return hostGroup(peerHost(peer));
}

/** addressGroup of an address without a port (a socket's remoteAddress: "10.0.0.7", "2001:db8::7"). */
export function hostGroup(address: string): string {
  const host = address.replace(/^\[(.*)\]$/, '$1');
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
