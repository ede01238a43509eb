import type { Command } from 'commander';
import type { AuthorityStatus } from '../../admin/authority-proto.js';
import type { AdminClient } from '../../admin/client.js';
import { withAdmin } from '../admin-connection.js';
import { replicaFlag } from '../flags.js';
import { outputFormat, printData, table, withOutputFormat } from '../output.js';
import { withAdminSocket, type AdminFlags, type CommandOutput } from '../admin-socket.js';

interface Flags extends AdminFlags {
  output: string;
  reason?: string;
  force?: boolean;
  upstream?: boolean;
  replica?: string;
}

const percent = (part: number, whole: number) => (whole === 0 ? '100%' : `${Math.floor((part / whole) * 100)}%`);

/** The status as a table: one row per authority, then the fleet's convergence. */
export function authorityTable(s: AuthorityStatus): string {
  const rows = s.authorities.map((a) => [
    a.id,
    a.state,
    a.not_after,
    String(a.subscribers.sent),
    String(a.subscribers.acked),
    String(a.subscribers.nacked),
    a.since,
    a.reason,
  ]);
  let text = table(['ID', 'STATE', 'NOT AFTER', 'SENT', 'ACKED', 'NACKED', 'SINCE', 'REASON'], rows);
  text += `\nsubscribers: ${s.subscribers}, on the active authority (acked): ${s.converged} (${percent(s.converged, s.subscribers)})\n`;
  text += `bundle ${s.bundle_version}: acked by ${s.bundle_acked} of ${s.bundle_subscribers} subscribed\n`;
  // The id `--replica` takes: the replica this status is of.
  if (s.replica) text += `replica: ${s.replica}\n`;
  for (const a of s.authorities) if (a.nacked_nodes.length) text += `NACKed a certificate under ${a.id}: ${a.nacked_nodes.join(', ')}\n`;
  if (s.replicas?.length) {
    const rows = s.replicas.map((r) => [
      r.replica_id,
      r.authorities.find((a) => a.state === 'active')?.id ?? '-',
      String(r.subscribers),
      `${r.converged} (${percent(r.converged, r.subscribers)})`,
      r.last_seen,
    ]);
    text += `\nreplicas (from their last heartbeats):\n${table(['REPLICA', 'ACTIVE AUTHORITY', 'SUBSCRIBERS', 'ON ACTIVE (ACKED)', 'LAST SEEN'], rows)}`;
    const all = s.replicas.reduce((n, r) => n + r.subscribers, 0);
    const on = s.replicas.reduce((n, r) => n + r.converged, 0);
    text += `fleet: ${all} subscribers, ${on} (${percent(on, all)}) on their replica's active authority\n`;
  }
  return text;
}

/**
 * `workload-ca authority show|prepare|activate|taint|revoke`, after
 * `spire-server localauthority x509 …`: every command prints the resulting status.
 */
export function registerAuthorityCommand(program: Command, output: CommandOutput = process): void {
  const authority = program.command('authority').description('inspect and move the CA intermediates (authorities) through their states');
  const action =
    (call: (client: AdminClient, flags: Flags, id?: string) => Promise<AuthorityStatus>) =>
    async (...args: unknown[]) => {
      const id = typeof args[0] === 'string' ? args[0] : undefined;
      const flags = (id === undefined ? args[0] : args[1]) as Flags;
      const format = outputFormat(flags.output);
      replicaFlag(flags.replica);
      const status = await withAdmin(flags, (client) => call(client, flags, id));
      printData(output.stdout, format, status, authorityTable);
    };
  const command = (name: string, description: string) => withOutputFormat(withAdminSocket(authority.command(name).description(description)));

  const replicaOption = (what: string) => ['--replica <id>', what] as const;
  const holderOption = replicaOption('the replica that must hold it; refused (nothing changes) when it does not');
  command('show', 'every authority, its state and how many subscribers hold / acknowledged a leaf under it')
    .option(...replicaOption("only this replica's status (another replica's from its last heartbeat)"))
    .action(action((client, f) => client.getAuthorityStatus({ replica: replicaFlag(f.replica) })));
  command('prepare', 'mint a new intermediate through the upstream and hold it as prepared')
    .option('--reason <text>', 'why (audit log)', '')
    .action(action((client, f) => client.prepareAuthority({ reason: f.reason ?? '' })));
  command('activate', 'make the prepared authority active; the previous one becomes old and its subscribers are re-issued')
    .argument('<id>', 'authority ID (hex SKI) as "authority show" prints it')
    .option('--reason <text>', 'why (audit log)', '')
    .action(action((client, f, id) => client.activateAuthority({ id: id!, reason: f.reason ?? '' })));
  command('taint', 'mark an old authority tainted: every subscriber holding a leaf under it is re-issued now')
    .argument('<id>', 'authority ID (hex SKI)')
    .requiredOption('--reason <text>', 'why (audit log)')
    .option(...holderOption)
    .action(action((client, f, id) => client.taintAuthority({ id: id!, reason: f.reason ?? '', replica: replicaFlag(f.replica) })));
  command('revoke', 'revoke a tainted authority (or, with --force and --reason, an old one): its key is dropped')
    .argument('<id>', 'authority ID (hex SKI)')
    .requiredOption('--reason <text>', 'why (audit log)')
    .option('--force', 'revoke without tainting first')
    .option('--upstream', "also revoke the intermediate's certificate at the upstream (Vault pki/revoke, AWS Private CA RevokeCertificate)")
    .option(...holderOption)
    .action(action((client, f, id) => client.revokeAuthority({ id: id!, reason: f.reason ?? '', force: f.force === true, upstream: f.upstream === true, replica: replicaFlag(f.replica) })));
}
