/**
 * `workload-ca upstream check`: dry-runs the configured upstream the way
 * `serve` would use it (config, connect, authenticate where the plugin can, roots, and with
 * --mint a real CSR round trip through the same validation) and reports each
 * step. Exits non-zero with the failing step's exit code.
 */
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { parseDurationSeconds } from '../../duration.js';
import { mintIntermediate } from '../../ca/intermediate.js';
import { memoryKeyManager } from '../../keys/memory.js';
import { createKeyManager } from '../../app/key-manager.js';
import { systemClock } from '../../clock.js';
import type { Config } from '../../config/schema.js';
import { WcaError } from '../../errors.js';
import { createLogger } from '../../telemetry/logger.js';
import { checkUpstreamConfig, loadUpstream } from '../../upstream/loader.js';
import { configError } from '../../upstream/sdk/errors.js';
import { validateRoots } from '../../upstream/validate.js';
import type { KeyType } from '../../x509/key-types.js';

export interface UpstreamCheckOptions {
  config?: string;
  mint?: boolean;
  /** Lifetime requested for the test intermediate, e.g. "1h". */
  ttl?: string;
  env?: Readonly<Record<string, string | undefined>>;
  out?: { write(text: string): unknown };
}

const describeCert = (pem: string) => {
  const c = new X509Certificate(pem);
  return `${c.subject.replace(/\n/g, ', ')} (valid until ${new Date(c.validTo).toISOString()})`;
};

async function step<T>(out: UpstreamCheckOptions['out'] & object, name: string, fn: () => Promise<T>, ok: (v: T) => string): Promise<T> {
  const started = Date.now();
  try {
    const value = await fn();
    out.write(`  ${name.padEnd(8)} ok   ${ok(value)} [${Date.now() - started} ms]\n`);
    return value;
  } catch (err) {
    out.write(`  ${name.padEnd(8)} FAIL ${err instanceof Error ? err.message : String(err)}\n`);
    throw err;
  }
}

export async function runUpstreamCheck(options: UpstreamCheckOptions = {}): Promise<void> {
  const env = options.env ?? process.env;
  const out = options.out ?? process.stdout;
  const config = loadConfig({ file: options.config, env });
  const spec = config.upstream;
  const baseDir = path.dirname(path.resolve(options.config ?? env.WCA_CONFIG ?? 'workload-ca.yaml'));
  const ttlSeconds = options.ttl === undefined ? 3600 : parseDurationSeconds(options.ttl);
  if (ttlSeconds === undefined) throw new WcaError('ERR_USAGE', `--ttl "${options.ttl}" is not a duration (e.g. 30m, 1h)`);
  out.write(`upstream "${spec.plugin}" for trust domain ${config.trustDomain} (profile ${config.profile})\n`);

  await step(out, 'config', async () => {
    const problems = await checkUpstreamConfig(spec, { baseDir });
    if (problems.length > 0) throw configError(spec.plugin, problems);
  }, () => 'schema valid');

  const upstream = await step(
    out,
    'connect',
    () =>
      loadUpstream(
        spec,
        { logger: createLogger({ level: config.log.level }), now: Date.now, devProfile: config.profile === 'dev', env },
        { baseDir, timeoutMs: config.upstream.timeout * 1000 },
      ),
    (u) => `plugin ${u.name} created`,
  );
  try {
    if (upstream.checkCredentials) {
      // A real login or token lookup: "accepted" is only said after the upstream said so.
      await step(out, 'auth', () => upstream.checkCredentials!(), (line) => line);
    }
    if (upstream.fetchRoots) {
      // self-signed makes its root on the first mint, so "none yet" is not a failure.
      await step(
        out,
        'roots',
        async () => {
          const roots = await upstream.fetchRoots!();
          return roots.length === 0 ? [] : validateRoots(roots);
        },
        (roots) => (roots.length === 0 ? 'none published yet' : roots.map(describeCert).join('; ')),
      );
    }
    if (options.mint) {
      const slot = await step(
        out,
        'mint',
        // A throw-away in-memory key: the check is about the upstream, and must not add versions to a remote key.
        () => mintIntermediate({ upstream, keyManager: memoryKeyManager(), trustDomain: config.trustDomain, keyType: config.ca.keyType as KeyType, ttlSeconds, nowMs: Date.now() }),
        (s) =>
          `intermediate valid until ${new Date(s.notAfterMs).toISOString()}${s.truncated ? ' (TRUNCATED)' : ''}, ` +
          `roots: ${s.rootsPem.length}`,
      );
      for (const warning of slot.warnings) out.write(`  warning  ${warning}\n`);
    } else {
      out.write('  mint     skipped (add --mint for a CSR signing round trip)\n');
    }
  } finally {
    await upstream.close();
  }
  await checkKeyManager(config, env, out);
  out.write('upstream check passed\n');
}

/** A remote key manager is part of what `serve` depends on: log in and read the key, change nothing. */
async function checkKeyManager(config: Config, env: Readonly<Record<string, string | undefined>>, out: UpstreamCheckOptions['out'] & object): Promise<void> {
  if (config.ca.keyManager.type === 'memory') return;
  const keyManager = await createKeyManager(config.ca.keyManager, {
    logger: createLogger({ level: config.log.level }),
    now: systemClock.now,
    schedule: systemClock.schedule,
    env,
    intermediateTtlSeconds: config.ca.intermediateTtl,
  });
  try {
    if (keyManager.check) await step(out, 'keys', () => keyManager.check!(), (line) => `${keyManager.name}: ${line}`);
  } finally {
    await keyManager.close();
  }
}

export function registerUpstreamCommand(program: Command): void {
  const upstream = program.command('upstream').description('inspect the configured upstream authority');
  upstream
    .command('check')
    .description('dry-run the upstream: config, authentication, roots, a remote key manager, and with --mint a CSR signing round trip')
    .option('-c, --config <file>', 'config file (default: $WCA_CONFIG, else the dev profile)')
    .option('--mint', 'ask the upstream to sign a test intermediate (a real, billable issuance on AWS Private CA)')
    .option('--ttl <duration>', 'lifetime requested for the test intermediate', '1h')
    .action(async (flags: { config?: string; mint?: boolean; ttl: string }) => {
      await runUpstreamCheck({ config: flags.config, mint: flags.mint, ttl: flags.ttl });
    });
}
