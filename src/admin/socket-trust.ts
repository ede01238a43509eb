/**
 * Who may stand behind the admin socket. Its file mode is the admin API's only
 * access control, so the socket must sit in a directory that no other user can
 * write to (or nobody stops them binding it first, or swapping it), and the CLI
 * must not hand a request to, or print a token from, a socket someone else owns.
 */
import fs from 'node:fs';
import { lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { WcaError, type ReasonOf } from '../errors.js';
import { currentUid } from './socket-path.js';

export type AdminSocketProblem = ReasonOf<'ERR_ADMIN_SOCKET_UNSAFE'>;

const unsafe = (reason: AdminSocketProblem, message: string, details: Record<string, unknown>) =>
  new WcaError('ERR_ADMIN_SOCKET_UNSAFE', message, { details: { reason, ...details } });

export const adminUnavailable = (socketPath: string) =>
  new WcaError(
    'ERR_ADMIN_UNAVAILABLE',
    `cannot reach the admin API at unix:${socketPath} (is workload-ca serve running, and may this user open the socket?)`,
  );

/** A real directory (not a link), owned by this user, that nobody else can write to. */
function checkDirectory(dir: string, stat: fs.Stats, uid: number | undefined): void {
  if (!stat.isDirectory()) {
    throw unsafe('not-a-directory', `${dir} (the admin socket's directory) is a ${stat.isSymbolicLink() ? 'symbolic link' : 'file'}, not a directory; refusing it`, { path: dir });
  }
  if ((stat.mode & 0o022) !== 0) {
    const mode = (stat.mode & 0o7777).toString(8).padStart(4, '0');
    throw unsafe('dir-mode', `${dir} (the admin socket's directory) has mode ${mode}: other users can create or replace the socket; run chmod go-w on it or choose another path`, {
      path: dir,
      mode,
    });
  }
  if (uid !== undefined && stat.uid !== uid) {
    throw unsafe(
      'dir-owner',
      `${dir} (the admin socket's directory) belongs to uid ${stat.uid}, not to this user (uid ${uid}), so that user controls the socket; ` +
        'remove the directory or choose another admin socket path',
      { path: dir, owner: stat.uid, uid },
    );
  }
}

/** Server side, before binding: creates the socket's directory 0700 when missing, then checks it. */
export async function prepareAdminSocketDir(socketPath: string, uid = currentUid()): Promise<void> {
  const dir = path.dirname(socketPath);
  await mkdir(dir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw new WcaError('ERR_LISTEN_ADDRESS', `cannot create ${dir} for the admin socket: ${err.code ?? err.message}`);
  });
  checkDirectory(dir, await lstat(dir), uid);
}

/** undefined when missing; a path this user cannot even look at is unreachable too. */
function lstatIfExists(file: string, socketPath: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw adminUnavailable(socketPath);
  }
}

/**
 * Client side, before connecting: the socket and its directory belong to this
 * user. With the directory closed to others, nobody can swap the socket between
 * this check and the connect.
 */
export function checkAdminSocket(socketPath: string, uid = currentUid()): void {
  const dirStat = lstatIfExists(path.dirname(socketPath), socketPath);
  if (!dirStat) throw adminUnavailable(socketPath);
  checkDirectory(path.dirname(socketPath), dirStat, uid);
  const stat = lstatIfExists(socketPath, socketPath);
  if (!stat) throw adminUnavailable(socketPath);
  if (!stat.isSocket()) throw unsafe('not-a-socket', `unix:${socketPath} is not a socket; refusing it`, { path: socketPath });
  if (uid !== undefined && stat.uid !== uid) {
    throw unsafe(
      'socket-owner',
      `unix:${socketPath} belongs to uid ${stat.uid}, not to this user (uid ${uid}): it is not a workload-ca this user started, ` +
        'so nothing is sent to it; run the command as the server\'s user',
      { path: socketPath, owner: stat.uid, uid },
    );
  }
}
