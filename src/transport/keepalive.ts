import type { TLSSocket } from 'node:tls';
import type * as grpc from '@grpc/grpc-js';

/** How a listener finds out that a peer is gone when TCP never tells it. */
export interface Keepalive {
  /** The server PINGs each connection this long after the last answer. */
  intervalMs: number;
  /** A PING unanswered this long ends the connection. */
  timeoutMs: number;
}

/** `pingInterval` / `pingTimeout` of a `connections:` config section (seconds). */
export function keepaliveOf(connections: { pingInterval: number; pingTimeout: number }): Keepalive {
  return { intervalMs: connections.pingInterval * 1000, timeoutMs: connections.pingTimeout * 1000 };
}

/** grpc-js server options for `keepalive`: the server PINGs every connection, with or without a call, so a live peer sends bytes at least once an interval. */
export function keepaliveServerOptions(keepalive: Keepalive): grpc.ServerOptions {
  return { 'grpc.keepalive_time_ms': keepalive.intervalMs, 'grpc.keepalive_timeout_ms': keepalive.timeoutMs };
}

export interface SilenceWatch {
  /** Watches an established connection until it closes. */
  add(socket: TLSSocket): void;
  stop(): void;
}

/**
 * Destroys TLS connections that have received nothing for longer than a PING interval
 * plus its timeout: with the server PINGing (keepaliveServerOptions), a live peer
 * never stays that quiet.
 *
 * Why the socket and not the HTTP/2 session: Node 20's TLSWrap::EncOut keeps its
 * write marked "in progress" after the underlying TCP write fails at once (EPIPE
 * when the peer's RST has already arrived), so the http2 session that owns the
 * socket waits for that write forever, stops reading, never sees the peer's FIN,
 * and even session.destroy() (grpc-js's idle and keepalive timeouts) never gets to
 * close the socket. A peer that closes right after its handshake, with its request
 * still unread, hits this often (issue #13); TLSSocket.destroy() is what still
 * closes the descriptor, and `bytesRead` stops moving once the session stops
 * reading, whatever the reason.
 */
export function watchSilence(keepalive: Keepalive, onSilent: (socket: TLSSocket) => void): SilenceWatch {
  const limitMs = keepalive.intervalMs + keepalive.timeoutMs;
  // A quarter of the limit: a silent connection goes at most 25% late, for one pass over the map every few seconds.
  const periodMs = Math.max(100, limitMs / 4);
  const watched = new Map<TLSSocket, { bytesRead: number; since: number }>();
  let lastSweep = performance.now();
  const sweep = () => {
    const now = performance.now();
    // After a blocked event loop, timers run before the reads that queued meanwhile: nobody can be judged on that gap.
    const blocked = now - lastSweep > 2 * periodMs;
    lastSweep = now;
    for (const [socket, seen] of watched) {
      const bytesRead = socket.bytesRead;
      if (bytesRead !== seen.bytesRead || blocked) {
        seen.bytesRead = bytesRead;
        seen.since = now;
      } else if (now - seen.since > limitMs) {
        watched.delete(socket);
        onSilent(socket);
        socket.destroy();
      }
    }
  };
  const timer = setInterval(sweep, periodMs).unref();
  return {
    add(socket) {
      watched.set(socket, { bytesRead: socket.bytesRead, since: performance.now() });
      socket.once('close', () => watched.delete(socket));
    },
    stop() {
      clearInterval(timer);
      watched.clear();
    },
  };
}
