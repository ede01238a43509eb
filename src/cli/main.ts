#!/usr/bin/env node
import 'reflect-metadata';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { exitCodeOf, ExitCode, publicMessageOf } from '../errors.js';
import { registerServeCommand } from './commands/serve.js';
import { registerIssueCommand } from './commands/issue.js';
import { registerVersionCommand } from './commands/version.js';
import { registerUpstreamCommand } from './commands/upstream.js';
import { registerTokenCommand } from './commands/token.js';
import { registerAuthorityCommand } from './commands/authority.js';
import { registerRotateCommand } from './commands/rotate.js';
import { registerBundleCommand } from './commands/bundle.js';
import { registerAuditCommand } from './commands/audit.js';
import { registerIdentityCommand } from './commands/identity.js';
import { registerHealthcheckCommand } from './commands/healthcheck.js';

function buildProgram(): Command {
  const program = new Command('workload-ca')
    .description('In-memory SPIFFE workload CA serving X.509-SVIDs to Envoy over SDS')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  registerServeCommand(program);
  registerIssueCommand(program);
  registerUpstreamCommand(program);
  registerTokenCommand(program);
  registerAuthorityCommand(program);
  registerRotateCommand(program);
  registerBundleCommand(program);
  registerAuditCommand(program);
  registerIdentityCommand(program);
  registerHealthcheckCommand(program);
  registerVersionCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; usage mistakes exit 2 like other CLIs.
      return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    process.stderr.write(`error: ${publicMessageOf(err)}\n`);
    return exitCodeOf(err);
  }
}

// Run when this file is the process entry, also through npm's bin symlink (argv[1] is the link).
const isEntry = process.argv[1] !== undefined && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (isEntry) {
  main(process.argv).then((code) => {
    if (code !== ExitCode.OK) process.exitCode = code;
  });
}
