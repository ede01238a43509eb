import type { Command } from 'commander';
import { limits } from '../../limits.js';
import { withAdmin } from '../admin-connection.js';
import { flagError } from '../flags.js';
import { outputFormat, printData, table, withOutputFormat } from '../output.js';
import { withAdminSocket, type CommandOutput } from '../admin-socket.js';

interface Flags {
  adminSocket: string;
  output: string;
  lines: string;
  type: string[];
}

/** What a table row shows of an event: everything but the fields the other columns have. */
function summary(json: string): string {
  const { seq: _seq, time: _time, type: _type, ...rest } = JSON.parse(json) as Record<string, unknown>;
  return Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

/** `workload-ca audit tail`: the latest audit events the server keeps in memory. */
export function registerAuditCommand(program: Command, output: CommandOutput = process): void {
  const audit = program.command('audit').description('the audit log');
  const tail = audit
    .command('tail')
    .description('print the latest audit events (oldest first)')
    .option('-n, --lines <n>', 'how many', '50')
    .option('--type <type>', 'only this type: issuance, denial, transition, bundle, join-token, admin (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[]);
  withOutputFormat(withAdminSocket(tail)).action(async (flags: Flags) => {
    const format = outputFormat(flags.output);
    const limit = Number(flags.lines);
    if (!Number.isInteger(limit) || limit < 1 || limit > limits.auditTailMax) {
      throw flagError('--lines', flags.lines, `must be a whole number from 1 to ${limits.auditTailMax}`);
    }
    const { events } = await withAdmin(flags.adminSocket, (client) => client.listAuditEvents({ limit, types: flags.type }));
    const parsed = events.map((e) => JSON.parse(e.json) as unknown);
    printData(output.stdout, format, parsed, () => table(['SEQ', 'TIME', 'TYPE', 'EVENT'], events.map((e) => [e.seq, e.time, e.type, summary(e.json)])));
  });
}
