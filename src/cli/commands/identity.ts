import type { Command } from 'commander';
import type { EvictIdentityResponse } from '../../admin/proto.js';
import { withAdmin } from '../admin-connection.js';
import { withAdminSocket, type AdminFlags, type CommandOutput } from '../admin-socket.js';
import { outputFormat, printData, table, withOutputFormat } from '../output.js';

interface EvictFlags extends AdminFlags {
  output: string;
}

const evictionTable = (e: EvictIdentityResponse) =>
  table(['SPIFFE ID', 'EVICTED AT', 'REFUSED UNTIL', 'STREAMS ENDED'], [[e.spiffe_id, e.evicted_at, e.expires_at, String(e.streams_ended)]]);

/** `workload-ca identity evict`: ends an identity's renewal through the running server's admin API. */
export function registerIdentityCommand(program: Command, output: CommandOutput = process): void {
  const identity = program.command('identity').description('manage workload identities on the running server');
  withOutputFormat(withAdminSocket(identity.command('evict')))
    .description('refuse mTLS renewal of every current certificate of a SPIFFE ID and end its SDS streams; it must present its original credential again')
    .argument('<spiffe-id>', 'SPIFFE ID to evict, e.g. spiffe://cluster.local/vm/db-1')
    .action(async (spiffeId: string, flags: EvictFlags) => {
      const format = outputFormat(flags.output);
      const evicted = await withAdmin(flags, (client) => client.evictIdentity({ spiffe_id: spiffeId }));
      printData(output.stdout, format, evicted, evictionTable);
    });
}
