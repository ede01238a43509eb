import { mkdtemp, chmod, rename, rmdir, lstat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { WcaError } from '../errors.js';

export type SocketMode = '0600' | '0660';

/** True when something accepts connections on the path right now. */
function isLive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Refuses to replace anything but a stale socket at `socketPath`. */
async function checkFree(socketPath: string): Promise<void> {
  const stat = await lstat(socketPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!stat) return;
  if (!stat.isSocket()) {
    throw new WcaError('ERR_LISTEN_ADDRESS', `unix:${socketPath} exists and is not a socket; refusing to replace it`);
  }
  if (await isLive(socketPath)) throw new WcaError('ERR_LISTEN_ADDRESS', `unix:${socketPath} is in use by another process`);
}

/**
 * Binds a Unix socket that is never reachable with a looser mode than asked: it
 * is created inside a fresh 0700 directory, chmod-ed, then renamed into place.
 * Returns a function that removes the socket file.
 */
export async function bindUnixSocket(
  socketPath: string,
  mode: SocketMode,
  bind: (address: string) => Promise<void>,
): Promise<() => Promise<void>> {
  await checkFree(socketPath);
  const dir = await mkdtemp(path.join(path.dirname(socketPath), '.wca-'));
  const staging = path.join(dir, 's');
  try {
    await bind(`unix:${staging}`);
    await chmod(staging, Number.parseInt(mode, 8));
    await rename(staging, socketPath);
  } finally {
    await rmdir(dir).catch(() => undefined);
  }
  return () => unlink(socketPath).catch(() => undefined);
}
