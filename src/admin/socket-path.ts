import path from 'node:path';

/** The effective user id; undefined on platforms without POSIX ids. */
export const currentUid = (): number | undefined => process.geteuid?.();

/**
 * Where the admin socket lives unless configured: a directory only this user can
 * write to, so no other local user can bind the socket first (the old default in
 * /tmp let anyone squat it). `serve` and `token create` both default to this, so
 * the same user with the same environment finds the same socket.
 *
 * root: /run/workload-ca; others: $XDG_RUNTIME_DIR/workload-ca (systemd's per-user
 * runtime directory), else $TMPDIR/workload-ca-<uid> (as tmux does), created 0700.
 */
export function defaultAdminSocketPath(env: Readonly<Record<string, string | undefined>>, uid = currentUid()): string {
  if (uid === 0) return '/run/workload-ca/admin.sock';
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && path.isAbsolute(runtime)) return path.join(runtime, 'workload-ca', 'admin.sock');
  const tmp = env.TMPDIR && path.isAbsolute(env.TMPDIR) ? env.TMPDIR : '/tmp';
  return path.join(tmp, `workload-ca-${uid ?? 'user'}`, 'admin.sock');
}
