import type { Command } from 'commander';
import { packageVersion } from '../../package-root.js';
import { outputFormat, printData, withOutputFormat } from '../output.js';

/** One format for `workload-ca version`, `--version` and `-V`. */
export function versionLine(): string {
  return `workload-ca ${packageVersion()} (node ${process.version})`;
}

export function registerVersionCommand(program: Command): void {
  program.version(versionLine(), '-V, --version', 'print the workload-ca version');
  withOutputFormat(program.command('version').description('print the workload-ca version')).action((flags: { output: string }) => {
    printData(process.stdout, outputFormat(flags.output), { version: packageVersion(), node: process.version }, () => `${versionLine()}\n`);
  });
}
