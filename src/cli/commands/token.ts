import type { Command } from 'commander';
import { connectAdmin } from '../../admin/client.js';
import { parseDurationSeconds } from '../../duration.js';
import { WcaError } from '../../errors.js';
import { adminSocketPath, withAdminSocket, type CommandOutput } from '../admin-socket.js';

interface CreateFlags {
  spiffeId: string;
  ttl: string;
  dns: string[];
  adminSocket: string;
  json?: boolean;
}

/** `workload-ca token create`: mints a one-time join token through the running server's admin API. */
export function registerTokenCommand(program: Command, output: CommandOutput = process): void {
  const token = program.command('token').description('manage one-time join tokens for machines outside Kubernetes');
  withAdminSocket(token.command('create'))
    .description('create a join token bound to a SPIFFE ID; prints the token (shown once) on stdout')
    .requiredOption('--spiffe-id <id>', 'SPIFFE ID the machine will receive, e.g. spiffe://cluster.local/vm/db-1')
    .requiredOption('--ttl <duration>', 'how long the token can be used, e.g. 15m, 1h')
    .option('--dns <name>', 'DNS SAN the machine may have (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--json', 'print the whole answer as JSON')
    .action(async (flags: CreateFlags) => {
      // parseDurationSeconds wants a unit in strings; a bare number on the command line means seconds.
      const ttlSeconds = /^\d+$/.test(flags.ttl) ? Number(flags.ttl) : parseDurationSeconds(flags.ttl);
      if (ttlSeconds === undefined || !Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
        throw new WcaError('ERR_TTL_INVALID', `--ttl "${flags.ttl}" is not a duration of whole seconds (use e.g. 15m, 1h or 900)`);
      }
      const client = connectAdmin(adminSocketPath(flags.adminSocket));
      try {
        const created = await client.createJoinToken({ spiffe_id: flags.spiffeId, dns_names: flags.dns, ttl_seconds: ttlSeconds });
        if (flags.json) {
          output.stdout.write(`${JSON.stringify(created, null, 2)}\n`);
        } else {
          output.stdout.write(`${created.token}\n`);
          output.stderr.write(`join token ${created.token_id} for ${created.spiffe_id}, usable once until ${created.expires_at}\n`);
        }
      } finally {
        client.close();
      }
    });
}
