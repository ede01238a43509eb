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

/** A stale socket we may not replace (another user's, in a sticky directory such as /tmp): say whose, not EPERM. */
async function replaceFailed(socketPath: string, err: NodeJS.ErrnoException): Promise<never> {
  const owner = (await lstat(socketPath).catch(() => undefined))?.uid;
  throw new WcaError(
    'ERR_LISTEN_ADDRESS',
    `unix:${socketPath}: cannot replace the stale socket there (${err.code ?? err.message}` +
      `${owner === undefined ? '' : `; it belongs to uid ${owner}, this process runs as uid ${process.geteuid?.()}`}); remove it or choose another path`,
    { details: { path: socketPath, owner, reason: 'stale-socket-not-replaceable' } },
  );
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
    await rename(staging, socketPath).catch((err: NodeJS.ErrnoException) => replaceFailed(socketPath, err));
  } catch (err) {
    await unlink(staging).catch(() => undefined);
    throw err;
  } finally {
    await rmdir(dir).catch(() => undefined);
  }
  return () => unlink(socketPath).catch(() => undefined);
}
