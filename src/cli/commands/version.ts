import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

/** The package's version, found by walking up from this file (works from src/ and from dist/). */
function packageVersion(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'workload-ca' && pkg.version) return pkg.version;
  }
  return 'unknown';
}

export function registerVersionCommand(program: Command): void {
  program
    .command('version')
    .description('print the workload-ca version')
    .action(() => {
      process.stdout.write(`workload-ca ${packageVersion()} (node ${process.version})\n`);
    });
}
