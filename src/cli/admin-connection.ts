import type { Command } from 'commander';
import { connectAdmin, type AdminClient } from '../admin/client.js';
import { WcaError } from '../errors.js';
import { adminSocketPath } from './admin-socket.js';

/** `-o table|json` on every console command: tables for people, JSON for scripts. */
export function withOutputFormat(command: Command): Command {
  return command.option('-o, --output <format>', 'table or json', 'table');
}

export type OutputFormat = 'table' | 'json';

export function outputFormat(value: string): OutputFormat {
  if (value === 'table' || value === 'json') return value;
  throw new WcaError('ERR_USAGE', `-o "${value.slice(0, 32)}" is not an output format; use table or json`);
}

/** Runs fn with a client of the admin API at `address` (unix:/path only), closing it afterwards. */
export async function withAdmin<T>(address: string, fn: (client: AdminClient) => Promise<T>): Promise<T> {
  const client = connectAdmin(adminSocketPath(address));
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
