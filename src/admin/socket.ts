import { chmod, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import { WcaError } from '../errors.js';

/**
 * Makes `path` free for a new Unix socket: removes a stale socket left by a
 * crashed process, but never a live one (another instance is serving) and never
 * a file that is not a socket (a typo must not delete someone's data).
 */
export async function claimSocketPath(path: string): Promise<void> {
  const stat = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new WcaError('ERR_LISTEN_ADDRESS', `admin socket ${path}: ${err.code ?? err.message}`);
  });
  if (stat === undefined) return;
  if (!stat.isSocket()) throw new WcaError('ERR_LISTEN_ADDRESS', `admin socket ${path} exists and is not a socket; refusing to replace it`);
  if (await isLive(path)) throw new WcaError('ERR_LISTEN_ADDRESS', `admin socket ${path} is in use by another process`);
  await unlink(path);
}

/** Only the owning user may connect: connecting to a Unix socket needs write permission on it. */
export async function restrictSocket(path: string): Promise<void> {
  await chmod(path, 0o600);
}

function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
