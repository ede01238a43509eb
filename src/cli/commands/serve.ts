import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type ConfigFlags } from '../../config/load.js';
import { startApp, bundleFingerprints } from '../../app.js';
import { ExitCode } from '../../errors.js';
import { createLogger } from '../../telemetry/logger.js';
import { envoyBanner } from '../envoy-banner.js';

/** Time after shutdownTimeout for the rest of the process (signers, upstream, admin) to stop. */
const shutdownBackstopSeconds = 5;

interface ServeFlags extends ConfigFlags {
  config?: string;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the CA (embedded dev profile when no config is given)')
    .option('-c, --config <file>', 'YAML config file (default: $WCA_CONFIG, else the dev profile)')
    .option('--sds-listen <addr>', 'SDS listener, host:port or unix:/path')
    .option('--http-listen <addr>', 'metrics and health listener, host:port or unix:/path')
    .option('--admin-listen <addr>', 'admin API listener, unix:/path')
    .option('--profile <name>', 'dev or production (default: $WCA_PROFILE, else the file\'s profile)')
    .option('--trust-domain <name>', 'SPIFFE trust domain')
    .option('--log-level <level>', 'trace|debug|info|warn|error')
    .action(async (flags: ServeFlags) => {
      const file = flags.config ?? (process.env.WCA_CONFIG || undefined);
      const config = loadConfig({ file, flags });
      // The app's log is buffered: it is flushed before each of the lines below, which
      // every log level shows, so stderr keeps the order things happened in.
      const logger = createLogger({ level: config.log.level });
      const flushLog = () => new Promise<void>((resolve) => logger.flush(() => resolve()));
      const app = await startApp(config, { logger, configDir: file ? path.dirname(path.resolve(file)) : undefined });
      const lines = [
        `workload-ca serving (profile ${config.profile}, trust domain ${config.trustDomain})`,
        ...Object.entries(app.addresses).map(([name, address]) => `  ${name.padEnd(6)} ${address}`),
        // The human banner, not the JSON log on stderr: how to point Envoy at the port actually bound.
        ...(app.addresses.sds === undefined ? [] : envoyBanner(app.addresses.sds)),
        ...bundleFingerprints(app.authority.bundle().pem).map((fp) => `  root   sha256 ${fp}`),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await flushLog();
      process.stderr.write(`${signal}: shutting down (drain up to ${config.shutdownTimeout}s); a second signal exits at once\n`);
      // An operator who signals again wants out now: exit like a shell does for a signal (128 + its number).
      const abort = (again: NodeJS.Signals) => {
        process.stderr.write(`${again} during shutdown: exiting at once without draining\n`);
        process.exit(128 + os.constants.signals[again]);
      };
      process.once('SIGINT', abort);
      process.once('SIGTERM', abort);
      // close() cuts connections after shutdownTimeout; this is the backstop should anything else hang.
      const backstop = setTimeout(() => {
        process.stderr.write(`error: shutdown did not finish within ${config.shutdownTimeout + shutdownBackstopSeconds}s; exiting anyway\n`);
        process.exit(ExitCode.FAILURE);
      }, (config.shutdownTimeout + shutdownBackstopSeconds) * 1000);
      backstop.unref();
      await app.close();
      await flushLog();
      process.stderr.write('shutdown complete: exit 0\n');
    });
}
