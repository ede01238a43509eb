import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { connectAdmin, connectAdminTcp, type AdminClient } from '../admin/client.js';
import { parseListenAddress } from '../net/listen-address.js';
import { WcaError } from '../errors.js';
import { adminSocketPath, type AdminFlags } from './admin-socket.js';

/** `-o table|json` on every console command: tables for people, JSON for scripts. */
export function withOutputFormat(command: Command): Command {
  return command.option('-o, --output <format>', 'table or json', 'table');
}

export type OutputFormat = 'table' | 'json';

export function outputFormat(value: string): OutputFormat {
  if (value === 'table' || value === 'json') return value;
  throw new WcaError('ERR_USAGE', `-o "${value.slice(0, 32)}" is not an output format; use table or json`);
}

/** A client of the admin API: over TCP with mutual TLS when --server is given, else on the Unix socket. */
export function connectAdminFrom(flags: AdminFlags): AdminClient {
  if (flags.server === undefined) return connectAdmin(adminSocketPath(flags.adminSocket));
  const address = parseListenAddress(flags.server);
  if (typeof address === 'string' || address.kind !== 'tcp') throw new WcaError('ERR_USAGE', `--server "${flags.server.slice(0, 256)}" must be host:port`);
  const read = (flag: 'cert' | 'key' | 'ca') => {
    const file = flags[flag];
    if (file === undefined) throw new WcaError('ERR_USAGE', `--server needs --${flag} (mutual TLS: --cert, --key and --ca)`);
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new WcaError('ERR_USAGE', `--${flag} ${file}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  return connectAdminTcp({ address: flags.server, caPem: read('ca'), certPem: read('cert'), keyPem: read('key') });
}

/** Runs fn with a client of the admin API the flags name, closing it afterwards. */
export async function withAdmin<T>(flags: AdminFlags, fn: (client: AdminClient) => Promise<T>): Promise<T> {
  const client = connectAdminFrom(flags);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** Left-aligned columns separated by two spaces, as kubectl prints them. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}
