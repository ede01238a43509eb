import type { Command } from 'commander';
import { defaultAdminSocketPath } from '../admin/socket-path.js';
import { parseListenAddress } from '../net/listen-address.js';
import { WcaError } from '../errors.js';

/** Where CLI output goes; tests pass buffers. */
export interface CommandOutput {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** Adds --admin-socket with the configured default. */
export function withAdminSocket(command: Command): Command {
  return command.option('--admin-socket <address>', 'admin API address', `unix:${defaultAdminSocketPath(process.env)}`);
}

/** The filesystem path of an --admin-socket value; ERR_USAGE unless unix:/absolute/path. */
export function adminSocketPath(flag: string): string {
  const address = parseListenAddress(flag);
  if (typeof address === 'string' || address.kind !== 'unix') {
    throw new WcaError('ERR_USAGE', `--admin-socket "${flag}" must be unix:/absolute/path`);
  }
  return address.path;
}
