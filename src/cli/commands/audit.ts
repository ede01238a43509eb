import type { Command } from 'commander';
import { limits } from '../../limits.js';
import { withAdmin } from '../admin-connection.js';
import { flagError } from '../flags.js';
import { outputFormat, printData, table, withOutputFormat, type OutputFormat } from '../output.js';
import type { AuditEvent } from '../../admin/authority-proto.js';
import { followAudit } from '../audit-follow.js';
import { withAdminSocket, type AdminFlags, type CommandOutput } from '../admin-socket.js';

interface Flags extends AdminFlags {
  output: string;
  lines: string;
  type: string[];
  follow?: boolean;
}

/** How --follow is stopped: by SIGINT/SIGTERM unless a caller (a test) passes its own signal. */
export interface FollowControl {
  signal?: AbortSignal;
  intervalMs?: number;
}

/** Runs fn with a signal that aborts on Ctrl-C or SIGTERM; the handlers are gone afterwards. */
async function untilInterrupted<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const stop = new AbortController();
  const abort = () => stop.abort();
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  try {
    return await fn(stop.signal);
  } finally {
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }
}

const rows = (events: readonly AuditEvent[]) => table(['SEQ', 'TIME', 'TYPE', 'EVENT'], events.map((e) => [e.seq, e.time, e.type, summary(e.json)]));

/** Following: one JSON object per line, or table rows without the header after the first batch. */
function renderFollowing(events: readonly AuditEvent[], format: OutputFormat, header: boolean): string {
  if (format === 'json') return events.map((e) => `${e.json}\n`).join('');
  const text = rows(events);
  return header ? text : text.slice(text.indexOf('\n') + 1);
}

/** What a table row shows of an event: everything but the fields the other columns have. */
function summary(json: string): string {
  const { seq: _seq, time: _time, type: _type, ...rest } = JSON.parse(json) as Record<string, unknown>;
  return Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

/** `workload-ca audit tail [--follow]`: the latest audit events the server keeps in memory, then (following) each new one. */
export function registerAuditCommand(program: Command, output: CommandOutput = process, control: FollowControl = {}): void {
  const audit = program.command('audit').description('the audit log');
  const tail = audit
    .command('tail')
    .description('print the latest audit events (oldest first)')
    .option('-n, --lines <n>', 'how many', '50')
    .option('-f, --follow', 'keep printing new events until Ctrl-C (-o json: one JSON object per line)')
    .option('--type <type>', 'only this type: issuance, denial, transition, bundle, join-token, admin (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[]);
  withOutputFormat(withAdminSocket(tail)).action(async (flags: Flags) => {
    const format = outputFormat(flags.output);
    const limit = Number(flags.lines);
    if (!Number.isInteger(limit) || limit < 1 || limit > limits.auditTailMax) {
      throw flagError('--lines', flags.lines, `must be a whole number from 1 to ${limits.auditTailMax}`);
    }
    const follow = flags.follow === true;
    await withAdmin(flags, async (client) => {
      const { events } = await client.listAuditEvents({ limit, types: flags.type });
      if (!follow) {
        const parsed = events.map((e) => JSON.parse(e.json) as unknown);
        return printData(output.stdout, format, parsed, () => rows(events));
      }
      output.stdout.write(renderFollowing(events, format, true));
      const run = (signal: AbortSignal) =>
        followAudit(client, {
          afterSeq: Number(events.at(-1)?.seq ?? 0),
          types: flags.type,
          signal,
          ...(control.intervalMs === undefined ? {} : { intervalMs: control.intervalMs }),
          print: (next) => output.stdout.write(renderFollowing(next, format, false)),
          missed: (count, after) => output.stderr.write(`audit: ${count} events after seq ${after} left the server's ring before they were read\n`),
        });
      await (control.signal ? run(control.signal) : untilInterrupted(run));
    });
  });
}
