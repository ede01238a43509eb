import type { Command } from 'commander';
import { WcaError } from '../../errors.js';
import { withAdmin } from '../admin-connection.js';
import { durationFlag, replicaFlag } from '../flags.js';
import { outputFormat, printData, table, withOutputFormat } from '../output.js';
import { withAdminSocket, type AdminFlags, type CommandOutput } from '../admin-socket.js';

interface Flags extends AdminFlags {
  output: string;
  emergency?: boolean;
  reason: string;
  deadline: string;
  replica?: string;
}

/**
 * `workload-ca rotate --emergency`: prepare, activate, taint the previous authority
 * and wait for the fleet's ACKs. Exits 0 when every subscriber converged, 1 when
 * the deadline passed first (the counts say how far it got) or when the other
 * replicas could not be told (ERR_FLEET_NOT_REACHED).
 */
export function registerRotateCommand(program: Command, output: CommandOutput = process): void {
  const rotate = program
    .command('rotate')
    .description('re-key the fleet now (scheduled rotation is automatic; see docs/rotation.md)')
    .option('--emergency', 'mint and activate a new intermediate, taint the current one, wait for every subscriber to move')
    .requiredOption('--reason <text>', 'why (audit log)')
    .option('--deadline <duration>', 'how long to wait for acknowledgements', '30s')
    .option('--replica <id>', "re-key only this replica (this one: here alone; another live one: sent to it, this one does not rotate)");
  withOutputFormat(withAdminSocket(rotate)).action(async (flags: Flags) => {
    const format = outputFormat(flags.output);
    if (!flags.emergency) {
      throw new WcaError('ERR_USAGE', 'rotate needs --emergency (a planned rotation is "authority prepare" then "authority activate")');
    }
    const deadline = durationFlag('--deadline', flags.deadline, { min: 1, max: 600, whole: true });
    const replica = replicaFlag(flags.replica);
    const r = await withAdmin(flags, (client) => client.emergencyRotate({ reason: flags.reason, deadline_seconds: deadline, replica }));
    if (r.sent) {
      // Nothing to wait for here: that replica re-keys when it reads the actions log.
      return printData(output.stdout, format, r, () => `sent to replica ${r.replica} (fleet action ${r.fleet_action_seq}); follow it with "authority show --replica ${r.replica}"\n`);
    }
    printData(output.stdout, format, r, () =>
      table(
        ['NEW AUTHORITY', 'TAINTED', 'SUBSCRIBERS', 'CONVERGED', 'COMPLETE', 'WAITED'],
        [[r.new_authority_id, r.tainted_authority_id || '-', String(r.subscribers), String(r.converged), r.complete ? 'yes' : 'no', `${r.waited_ms}ms`]],
      ) + (r.fleet_problem ? `NOT SENT to the other replicas (${r.fleet_problem}): rotate each with --replica once the store is back\n` : ''),
    );
    // A rotation of one replica out of many is not a success, whatever its own subscribers did.
    if (r.fleet_problem) {
      throw new WcaError('ERR_FLEET_NOT_REACHED', `this replica rotated, the other replicas were NOT told (${r.fleet_problem}); rotate each with "rotate --emergency --replica <id>"`);
    }
    if (!r.complete) {
      throw new WcaError('ERR_ROTATION_INCOMPLETE', `${r.subscribers - r.converged} of ${r.subscribers} subscribers had not acknowledged the new authority by the deadline; see "authority show"`);
    }
  });
}
