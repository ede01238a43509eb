import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type ConfigFlags } from '../../config/load.js';
import { startApp, bundleFingerprints } from '../../app.js';
import { ExitCode } from '../../errors.js';
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
    .option('--trust-domain <name>', 'SPIFFE trust domain')
    .option('--log-level <level>', 'trace|debug|info|warn|error')
    .action(async (flags: ServeFlags) => {
      const file = flags.config ?? (process.env.WCA_CONFIG || undefined);
      const config = loadConfig({ file, flags });
      const app = await startApp(config, { configDir: file ? path.dirname(path.resolve(file)) : undefined });
      const lines = [
        `workload-ca serving (profile ${config.profile}, trust domain ${config.trustDomain})`,
        ...Object.entries(app.addresses).map(([name, address]) => `  ${name.padEnd(6)} ${address}`),
        // The human banner, not the JSON log on stderr: how to point Envoy at the port actually bound.
        ...(app.addresses.sds === undefined ? [] : envoyBanner(app.addresses.sds)),
        ...bundleFingerprints(app.authority.bundle().pem).map((fp) => `  root   sha256 ${fp}`),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      // close() cuts connections after shutdownTimeout; this is the backstop should anything else hang.
      const backstop = setTimeout(() => {
        process.stderr.write(`error: shutdown did not finish within ${config.shutdownTimeout + shutdownBackstopSeconds}s; exiting anyway\n`);
        process.exit(ExitCode.FAILURE);
      }, (config.shutdownTimeout + shutdownBackstopSeconds) * 1000);
      backstop.unref();
      await app.close();
    });
}
