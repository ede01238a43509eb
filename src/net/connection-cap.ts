import type { Server, Socket } from 'node:net';
import { hostGroup } from './address-group.js';

/** Bounds on the connections one listener holds, whoever the peers are. */
export interface ConnectionCaps {
  /** Open connections per client IP address; more are closed at once. */
  perAddress: number;
  /** Open connections in all; more are closed by Node right after the accept. */
  max: number;
}

export interface CappedConnections {
  /** Open connections (the TLS ones mid-handshake included). */
  count(): number;
  /** Ends every open connection (on close, so none holds the server open). */
  destroyAll(): void;
}

/**
 * What the per-address cap counts a connection under: its IPv4 address or IPv6 /64,
 * as the SDS stream limits do (one host routinely holds a whole /64). Peers of a Unix
 * socket have no address: they count as one.
 */
export function connectionKey(socket: Pick<Socket, 'remoteAddress'>): string {
  return socket.remoteAddress === undefined ? 'unix' : hostGroup(socket.remoteAddress);
}

/**
 * Caps a listener's connections in all (server.maxConnections: beyond it Node closes
 * each new connection right after accepting it, so the descriptors the admin socket
 * and the upstream need stay free) and per client address, counted from the raw
 * accept on, before any TLS or HTTP byte is read.
 */
export function capConnections(
  server: Server,
  caps: ConnectionCaps,
  onRefused: (address: string) => void,
  /**
   * With this, a new connection beyond `max` closes the oldest open one this says
   * is doing nothing (e.g. no request in progress) instead of being refused, so
   * idle connections from many addresses cannot starve a caller with a request.
   */
  evictable?: (socket: Socket) => boolean,
): CappedConnections {
  const sockets = new Set<Socket>();
  const perAddress = new Map<string, number>();
  const addresses = new WeakMap<Socket, string>();
  // Idempotent: an evicted socket is released at once and again at its 'close'.
  const release = (socket: Socket) => {
    if (!sockets.delete(socket)) return;
    const address = addresses.get(socket)!;
    const left = (perAddress.get(address) ?? 1) - 1;
    if (left > 0) perAddress.set(address, left);
    else perAddress.delete(address);
  };
  if (!evictable) server.maxConnections = caps.max;
  server.on('connection', (socket: Socket) => {
    const address = connectionKey(socket);
    const count = perAddress.get(address) ?? 0;
    if (count >= caps.perAddress) {
      onRefused(address);
      return void socket.destroy();
    }
    if (evictable && sockets.size >= caps.max) {
      // A Set iterates in insertion order: the oldest first.
      const idle = [...sockets].find(evictable);
      if (idle === undefined) return void socket.destroy();
      idle.destroy();
      // Counted out now, not at its 'close' (a later tick), so the new one fits.
      release(idle);
    }
    // Read again: the evicted connection may have been from this address.
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    sockets.add(socket);
    addresses.set(socket, address);
    socket.once('close', () => release(socket));
  });
  return {
    count: () => sockets.size,
    destroyAll: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}
