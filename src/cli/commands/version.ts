import type { Command } from 'commander';
import { createRequire } from 'node:module';

export function registerVersionCommand(program: Command): void {
  program
    .command('version')
    .description('print the workload-ca version')
    .action(() => {
      const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string };
      process.stdout.write(`workload-ca ${pkg.version} (node ${process.version})\n`);
    });
}
