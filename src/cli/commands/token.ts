import type { Command } from 'commander';
import { withAdmin } from '../admin-connection.js';
import { withAdminSocket, type AdminFlags, type CommandOutput } from '../admin-socket.js';
import { durationFlag } from '../flags.js';
import { limits } from '../../limits.js';
import { outputFormat, printData, withOutputFormat } from '../output.js';

interface CreateFlags extends AdminFlags {
  spiffeId: string;
  ttl: string;
  dns: string[];
  output: string;
}

/** `workload-ca token create`: mints a one-time join token through the running server's admin API. */
export function registerTokenCommand(program: Command, output: CommandOutput = process): void {
  const token = program.command('token').description('manage one-time join tokens for machines outside Kubernetes');
  withOutputFormat(withAdminSocket(token.command('create')))
    .description('create a join token bound to a SPIFFE ID; prints the token (shown once) on stdout')
    .requiredOption('--spiffe-id <id>', 'SPIFFE ID the machine will receive, e.g. spiffe://cluster.local/vm/db-1')
    .requiredOption('--ttl <duration>', 'how long the token can be used, e.g. 15m, 1h')
    .option('--dns <name>', 'DNS SAN the machine may have (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action(async (flags: CreateFlags) => {
      const format = outputFormat(flags.output);
      // ttl_seconds is a uint32 on the wire: an unbounded value would wrap, so the server's own ceiling is checked here, naming the flag.
      const ttlSeconds = durationFlag('--ttl', flags.ttl, { min: 1, max: limits.joinTokenMaxTtlSeconds, whole: true });
      const created = await withAdmin(flags, (client) => client.createJoinToken({ spiffe_id: flags.spiffeId, dns_names: flags.dns, ttl_seconds: ttlSeconds }));
      // For people the token alone goes to stdout, so `TOKEN=$(workload-ca token create …)` works; the rest is a note.
      printData(output.stdout, format, created, (c) => `${c.token}\n`);
      if (format === 'table') output.stderr.write(`join token ${created.token_id} for ${created.spiffe_id}, usable once until ${created.expires_at}\n`);
    });
}
