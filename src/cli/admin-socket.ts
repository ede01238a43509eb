import { Option, type Command } from 'commander';
import { defaultAdminSocketPath } from '../admin/socket-path.js';
import { parseListenAddress } from '../net/listen-address.js';
import { WcaError } from '../errors.js';

/** Where CLI output goes; tests pass buffers. */
export interface CommandOutput {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** Where the admin API is: the Unix socket, or, with --server, TCP with mutual TLS. */
export interface AdminFlags {
  adminSocket: string;
  server?: string;
  cert?: string;
  key?: string;
  ca?: string;
}

/**
 * Adds --admin-socket with the configured default, and --server/--cert/--key/--ca
 * for the admin API over TCP (as vault's VAULT_ADDR, VAULT_CLIENT_CERT,
 * VAULT_CLIENT_KEY, VAULT_CACERT; kubectl's --server, --client-certificate, …).
 */
export function withAdminSocket(command: Command): Command {
  return command
    .option('--admin-socket <address>', 'admin API address', `unix:${defaultAdminSocketPath(process.env)}`)
    .addOption(new Option('--server <host:port>', 'admin API over TCP (mutual TLS) instead of the Unix socket').env('WORKLOAD_CA_ADDR'))
    .addOption(new Option('--cert <file>', 'PEM client certificate for --server; its SPIFFE ID must be in admin.tcp.allow').env('WORKLOAD_CA_CLIENT_CERT'))
    .addOption(new Option('--key <file>', 'PEM private key of --cert').env('WORKLOAD_CA_CLIENT_KEY'))
    .addOption(new Option('--ca <file>', "PEM roots the admin server's certificate must chain to").env('WORKLOAD_CA_CACERT'));
}

/** The filesystem path of an --admin-socket value; ERR_USAGE unless unix:/absolute/path. */
export function adminSocketPath(flag: string): string {
  const address = parseListenAddress(flag);
  if (typeof address === 'string' || address.kind !== 'unix') {
    throw new WcaError('ERR_USAGE', `--admin-socket "${flag}" must be unix:/absolute/path`);
  }
  return address.path;
}
