import type { Command } from 'commander';
import { flagError } from './flags.js';
import { escapeUnsafe } from '../unsafe-text.js';

/** `-o table|json` on every command that prints data: tables for people, JSON for scripts. */
export function withOutputFormat(command: Command): Command {
  return command.option('-o, --output <format>', 'table or json', 'table');
}

export type OutputFormat = 'table' | 'json';

export function outputFormat(value: string): OutputFormat {
  if (value === 'table' || value === 'json') return value;
  throw flagError('--output', value, 'is not an output format; use table or json');
}

/**
 * Left-aligned columns separated by two spaces, as kubectl prints them. Cells hold
 * what peers and operators wrote (node IDs, reasons): every control character, ESC,
 * line break and bidi override is shown as a \uXXXX escape, so a cell can neither
 * drive the terminal nor forge a row.
 */
export function table(headers: readonly string[], cells: readonly (readonly string[])[]): string {
  const rows = cells.map((r) => r.map(escapeUnsafe));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/**
 * Writes `data` as indented JSON (escaped already), or what `toTable` makes of it with
 * each line made terminal-safe as table cells are (for the lines around a table): the
 * one place both formats are chosen.
 */
export function printData<T>(out: { write(text: string): unknown }, format: OutputFormat, data: T, toTable: (data: T) => string): void {
  out.write(format === 'json' ? `${JSON.stringify(data, null, 2)}\n` : toTable(data).split('\n').map(escapeUnsafe).join('\n'));
}
