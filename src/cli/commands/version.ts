import type { Command } from 'commander';
import { packageVersion } from '../../package-root.js';

/** One format for `workload-ca version`, `--version` and `-V`. */
export function versionLine(): string {
  return `workload-ca ${packageVersion()} (node ${process.version})`;
}

export function registerVersionCommand(program: Command): void {
  program.version(versionLine(), '-V, --version', 'print the workload-ca version');
  program
    .command('version')
    .description('print the workload-ca version')
    .action(() => {
      process.stdout.write(`${versionLine()}\n`);
    });
}
