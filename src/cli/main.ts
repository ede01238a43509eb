#!/usr/bin/env node
import 'reflect-metadata';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { exitCodeOf, ExitCode, publicMessageOf } from '../errors.js';
import { registerVersionCommand } from './commands/version.js';
import { shownValue } from '../unsafe-text.js';

type Register = (program: Command) => void;

/**
 * Each command's module, in the order help lists them, loaded only when that command
 * runs: loading every one (the CA, gRPC, the config schema, each plugin's) cost a
 * `--version` or a container HEALTHCHECK about half a second of CPU.
 */
const commands: Record<string, () => Promise<Register>> = {
  serve: async () => (await import('./commands/serve.js')).registerServeCommand,
  issue: async () => (await import('./commands/issue.js')).registerIssueCommand,
  upstream: async () => (await import('./commands/upstream.js')).registerUpstreamCommand,
  token: async () => (await import('./commands/token.js')).registerTokenCommand,
  authority: async () => (await import('./commands/authority.js')).registerAuthorityCommand,
  rotate: async () => (await import('./commands/rotate.js')).registerRotateCommand,
  bundle: async () => (await import('./commands/bundle.js')).registerBundleCommand,
  audit: async () => (await import('./commands/audit.js')).registerAuditCommand,
  identity: async () => (await import('./commands/identity.js')).registerIdentityCommand,
  healthcheck: async () => (await import('./commands/healthcheck.js')).registerHealthcheckCommand,
};

/**
 * The command named first, or every command when none is (help, a typo that
 * commander answers with "did you mean"); `version`, `-V` and `--version` need none.
 */
function commandsFor(first: string | undefined): string[] {
  if (first === '-V' || first === '--version' || first === 'version') return [];
  return first !== undefined && Object.hasOwn(commands, first) ? [first] : Object.keys(commands);
}

/** `version` is always registered: it also defines the program's own -V. */
async function buildProgram(argv: string[]): Promise<Command> {
  const program = new Command('workload-ca')
    .description('In-memory SPIFFE workload CA serving X.509-SVIDs to Envoy over SDS')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    // Commander quotes the unknown command or option as typed: each line cut and escaped, so a
    // pasted megabyte or an ESC sequence is not written to the terminal as is.
    .configureOutput({ outputError: (text, write) => write(text.split('\n').map((line) => shownValue(line, 200)).join('\n')) });
  for (const name of commandsFor(argv[2])) (await commands[name]!())(program);
  registerVersionCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await (await buildProgram(argv)).parseAsync(argv);
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
