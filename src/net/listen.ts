import fs from 'node:fs';
import type net from 'node:net';
import { WcaError } from '../errors.js';
import { formatListenAddress, type ListenAddress } from '../config/listen.js';

export interface Listening {
  /** Where it actually listens (port 0 resolved). */
  address: string;
  close(): Promise<void>;
}

/** Listens on TCP or a Unix socket (mode applied before anyone can connect to a stale one). */
export async function listen(server: net.Server, address: ListenAddress, socketMode = 0o600): Promise<Listening> {
  if (address.kind === 'unix') removeStaleSocket(address.path);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(new WcaError('ERR_LISTEN_ADDRESS', `cannot listen on ${formatListenAddress(address)}: ${err.code ?? err.message}`));
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      resolve();
    };
    if (address.kind === 'unix') server.listen(address.path, done);
    else server.listen(address.port, address.host, done);
  });
  if (address.kind === 'unix') fs.chmodSync(address.path, socketMode);
  const bound = server.address();
  const actual: ListenAddress =
    address.kind === 'unix' || bound === null || typeof bound === 'string'
      ? address
      : { kind: 'tcp', host: address.host, port: bound.port };
  return {
    address: formatListenAddress(actual),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as net.Server & { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

function removeStaleSocket(path: string): void {
  try {
    if (fs.statSync(path).isSocket()) fs.unlinkSync(path);
  } catch {
    // absent: nothing to remove
  }
}
