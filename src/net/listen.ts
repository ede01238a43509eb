import type net from 'node:net';
import { WcaError } from '../errors.js';
import { formatListenAddress, type ListenAddress } from './listen-address.js';
import { bindUnixSocket, type SocketMode } from './unix-socket.js';

export interface Listening {
  /** Where it actually listens (port 0 resolved). */
  address: string;
  /** True while the socket listens: the kernel accepts connections (readiness). */
  accepting(): boolean;
  /** Stops accepting new connections and leaves open ones alone (the first step of a drain). */
  stopAccepting(): void;
  close(): Promise<void>;
}

/** Listens on TCP, or on a Unix socket that is never reachable with a looser mode than `socketMode`. */
export async function listen(server: net.Server, address: ListenAddress, socketMode: SocketMode = '0600'): Promise<Listening> {
  const listenOn = (...args: unknown[]) =>
    new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) =>
        reject(new WcaError('ERR_LISTEN_ADDRESS', `cannot listen on ${formatListenAddress(address)}: ${err.code ?? err.message}`));
      server.once('error', onError);
      server.listen(...(args as [string]), () => {
        server.off('error', onError);
        resolve();
      });
    });
  let removeSocket: () => Promise<void> = async () => undefined;
  try {
    if (address.kind === 'unix') removeSocket = await bindUnixSocket(address.path, socketMode, (a) => listenOn(a.replace(/^unix:/, '')));
    else await listenOn(address.port, address.host);
  } catch (err) {
    // A server still listening on the staging socket would keep the process alive after the error.
    if (server.listening) server.close();
    throw err;
  }

  const bound = server.address();
  const actual: ListenAddress =
    address.kind === 'unix' || bound === null || typeof bound === 'string' ? address : { kind: 'tcp', host: address.host, port: bound.port };
  return {
    address: formatListenAddress(actual),
    accepting: () => server.listening,
    stopAccepting: () => {
      if (server.listening) server.close();
    },
    close: async () => {
      await new Promise<void>((resolve) => {
        // After stopAccepting() the server is already closed: the callback reports ERR_SERVER_NOT_RUNNING, which is fine here.
        server.close(() => resolve());
        (server as net.Server & { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await removeSocket();
    },
  };
}
