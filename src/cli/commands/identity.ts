import type { Command } from 'commander';
import type { EvictIdentityResponse } from '../../admin/proto.js';
import { WcaError } from '../../errors.js';
import { withAdminSocket, type AdminFlags, type CommandOutput } from '../admin-socket.js';
import { connectAdminFrom } from '../admin-connection.js';

interface EvictFlags extends AdminFlags {
  output: string;
}

const columns: [string, keyof EvictIdentityResponse][] = [
  ['SPIFFE ID', 'spiffe_id'],
  ['EVICTED AT', 'evicted_at'],
  ['REFUSED UNTIL', 'expires_at'],
  ['STREAMS ENDED', 'streams_ended'],
];

function table(row: EvictIdentityResponse): string {
  const cells = columns.map(([title, key]) => [title, String(row[key])] as const);
  const line = (pick: 0 | 1) => cells.map((cell) => cell[pick].padEnd(Math.max(cell[0].length, cell[1].length))).join('  ').trimEnd();
  return `${line(0)}\n${line(1)}\n`;
}

/** `workload-ca identity evict`: ends an identity's renewal through the running server's admin API. */
export function registerIdentityCommand(program: Command, output: CommandOutput = process): void {
  const identity = program.command('identity').description('manage workload identities on the running server');
  withAdminSocket(identity.command('evict'))
    .description('refuse mTLS renewal of every current certificate of a SPIFFE ID and end its SDS streams; it must present its original credential again')
    .argument('<spiffe-id>', 'SPIFFE ID to evict, e.g. spiffe://cluster.local/vm/db-1')
    .option('-o, --output <format>', 'table | json', 'table')
    .action(async (spiffeId: string, flags: EvictFlags) => {
      if (flags.output !== 'table' && flags.output !== 'json') {
        throw new WcaError('ERR_USAGE', `--output "${flags.output}" is not one of table, json`);
      }
      const client = connectAdminFrom(flags);
      try {
        const evicted = await client.evictIdentity({ spiffe_id: spiffeId });
        output.stdout.write(flags.output === 'json' ? `${JSON.stringify(evicted, null, 2)}\n` : table(evicted));
      } finally {
        client.close();
      }
    });
}
