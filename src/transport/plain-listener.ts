import net, { type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { ListenAddress } from '../net/listen-address.js';
import { listen } from '../net/listen.js';
import type { SocketMode } from '../net/unix-socket.js';

export interface PlainListener {
  /** Where it listens, port 0 resolved ("127.0.0.1:40123" or "unix:/path"). */
  readonly address: string;
  accepting(): boolean;
  stopAccepting(): void;
  /** Cuts every connection still open, stops listening and removes a Unix socket file. */
  close(): Promise<void>;
}

/**
 * The plaintext TCP or Unix-socket SDS listener: node:net accepts and grpc-js
 * serves each connection as HTTP/2 (a connection injector), as the TLS listener
 * does. Not grpc-js's own bindAsync: its forceShutdown (1.14) finds the HTTP/2
 * sessions to destroy only when channelz is enabled, so with channelz off a
 * client that keeps its connection open kept the process alive after SIGTERM.
 * Owning the sockets lets close() cut them.
 */
export async function listenPlain(grpcServer: grpc.Server, address: ListenAddress, socketMode: SocketMode): Promise<PlainListener> {
  const sockets = new Set<Socket>();
  const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  let accepted = 0;
  const server = net.createServer((socket) => {
    // A Unix socket peer has no address: name each connection, so a call's getPeer()
    // tells connections apart (CallerContext.connection) as "ip:port" does for TCP.
    if (address.kind === 'unix') Object.defineProperty(socket, 'remoteAddress', { value: `unix-connection-${++accepted}` });
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    injector.injectConnection(socket);
  });
  let listening;
  try {
    listening = await listen(server, address, socketMode);
  } catch (err) {
    injector.destroy();
    throw err;
  }
  return {
    address: listening.address,
    accepting: () => listening.accepting(),
    stopAccepting: () => listening.stopAccepting(),
    async close() {
      injector.destroy();
      for (const socket of sockets) socket.destroy();
      await listening.close();
    },
  };
}
