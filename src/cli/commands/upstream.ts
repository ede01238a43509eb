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
import { mintIntermediate } from '../../ca/intermediate.js';
import { memoryKeyManager } from '../../keys/memory.js';
import { createKeyManager } from '../../app/key-manager.js';
import { keyManagerContext, pluginContext } from '../../app/options.js';
import { systemClock } from '../../clock.js';
import type { Config } from '../../config/schema.js';
import { createLogger } from '../../telemetry/logger.js';
import { checkUpstreamConfig, loadUpstream } from '../../upstream/loader.js';
import { configError } from '../../upstream/sdk/errors.js';
import { validateRoots } from '../../upstream/validate.js';
import { publicMessageOf } from '../../errors.js';
import { durationFlag } from '../flags.js';
import { outputFormat, printData, withOutputFormat, type OutputFormat } from '../output.js';

export interface UpstreamCheckOptions {
  config?: string;
  mint?: boolean;
  /** Lifetime requested for the test intermediate, e.g. "1h". */
  ttl?: string;
  env?: Readonly<Record<string, string | undefined>>;
  out?: { write(text: string): unknown };
  /** table: a line per step as it finishes; json: one report at the end, also when a step failed. */
  format?: OutputFormat;
}

/** One step's outcome, as `-o json` prints it. */
export interface CheckStep {
  step: string;
  status: 'ok' | 'fail' | 'skipped' | 'warning';
  detail: string;
  ms?: number;
}

const LABELS = { ok: 'ok  ', fail: 'FAIL', skipped: 'skipped' } as const;

/** Collects the steps; writes each as it finishes for people, or all at once as JSON. */
class Report {
  readonly steps: CheckStep[] = [];
  constructor(
    private readonly out: { write(text: string): unknown },
    private readonly format: OutputFormat,
    readonly head: { plugin: string; trust_domain: string; profile: string },
  ) {
    if (format === 'table') out.write(`upstream "${head.plugin}" for trust domain ${head.trust_domain} (profile ${head.profile})\n`);
  }

  add(s: CheckStep): void {
    this.steps.push(s);
    if (this.format === 'json') return;
    const ms = s.ms === undefined || s.status !== 'ok' ? '' : ` [${s.ms} ms]`;
    this.out.write(s.status === 'warning' ? `  warning  ${s.detail}\n` : `  ${s.step.padEnd(8)} ${LABELS[s.status]} ${s.detail}${ms}\n`);
  }

  async step<T>(name: string, fn: () => Promise<T>, ok: (v: T) => string): Promise<T> {
    const started = Date.now();
    try {
      const value = await fn();
      this.add({ step: name, status: 'ok', detail: ok(value), ms: Date.now() - started });
      return value;
    } catch (err) {
      this.add({ step: name, status: 'fail', detail: err instanceof Error ? err.message : String(err), ms: Date.now() - started });
      throw err;
    }
  }

  end(passed: boolean): void {
    printData(this.out, this.format, { ...this.head, passed, steps: this.steps }, () => (passed ? 'upstream check passed\n' : ''));
  }
}

const describeCert = (pem: string) => {
  const c = new X509Certificate(pem);
  return `${c.subject.replace(/\n/g, ', ')} (valid until ${new Date(c.validTo).toISOString()})`;
};


export async function runUpstreamCheck(options: UpstreamCheckOptions = {}): Promise<void> {
  const env = options.env ?? process.env;
  const out = options.out ?? process.stdout;
  const format = options.format ?? 'table';
  let config: Config;
  try {
    config = loadConfig({ file: options.config, env });
  } catch (err) {
    // No plugin to name yet, but `-o json` still gets its one report: the config step, failed.
    if (format === 'json') printData(out, format, { passed: false, steps: [{ step: 'config', status: 'fail', detail: publicMessageOf(err) }] satisfies CheckStep[] }, () => '');
    throw err;
  }
  const spec = config.upstream;
  const baseDir = path.dirname(path.resolve(options.config ?? env.WCA_CONFIG ?? 'workload-ca.yaml'));
  const ttlSeconds = options.ttl === undefined ? 3600 : durationFlag('--ttl', options.ttl, { min: 1, max: config.ca.intermediateTtl, whole: true });
  const report = new Report(out, format, { plugin: spec.plugin, trust_domain: config.trustDomain, profile: config.profile });
  let passed = false;
  try {
    await checkUpstream(report, config, { env, baseDir, mint: options.mint === true, ttlSeconds });
    await checkKeyManager(config, env, report);
    passed = true;
  } finally {
    report.end(passed);
  }
}

async function checkUpstream(report: Report, config: Config, o: { env: Readonly<Record<string, string | undefined>>; baseDir: string; mint: boolean; ttlSeconds: number }): Promise<void> {
  const spec = config.upstream;
  await report.step('config', async () => {
    const problems = await checkUpstreamConfig(spec, { baseDir: o.baseDir, devProfile: config.profile !== 'production' });
    if (problems.length > 0) throw configError(spec.plugin, problems);
  }, () => 'schema valid');

  const upstream = await report.step(
    'connect',
    () =>
      loadUpstream(
        spec,
        pluginContext({ logger: createLogger({ level: config.log.level }), clock: systemClock, profile: config.profile, env: o.env }),
        { baseDir: o.baseDir, timeoutMs: config.upstream.timeout * 1000 },
      ),
    (u) => `plugin ${u.name} created`,
  );
  try {
    if (upstream.checkCredentials) {
      // A real login or authenticated call: "accepted" is only said after the upstream said so.
      await report.step('auth', () => upstream.checkCredentials!(), (line) => line);
    }
    if (upstream.fetchRoots) {
      // self-signed makes its root on the first mint, so "none yet" is not a failure.
      await report.step(
        'roots',
        async () => {
          const roots = await upstream.fetchRoots!();
          return roots.length === 0 ? [] : validateRoots(roots);
        },
        (roots) => (roots.length === 0 ? 'none published yet' : roots.map(describeCert).join('; ')),
      );
    }
    if (o.mint) {
      const slot = await report.step(
        'mint',
        // A throw-away in-memory key: the check is about the upstream, and must not add versions to a remote key.
        () => mintIntermediate({ upstream, keyManager: memoryKeyManager(), trustDomain: config.trustDomain, keyType: config.ca.keyType, ttlSeconds: o.ttlSeconds, nowMs: Date.now() }),
        (s) =>
          `intermediate valid until ${new Date(s.notAfterMs).toISOString()}${s.truncated ? ' (TRUNCATED)' : ''}, ` +
          `roots: ${s.rootsPem.length}`,
      );
      for (const warning of slot.warnings) report.add({ step: 'mint', status: 'warning', detail: warning });
    } else {
      report.add({ step: 'mint', status: 'skipped', detail: '(add --mint for a CSR signing round trip)' });
    }
  } finally {
    await upstream.close();
  }
}

/** A remote key manager is part of what `serve` depends on: log in and read the key, change nothing. */
async function checkKeyManager(config: Config, env: Readonly<Record<string, string | undefined>>, report: Report): Promise<void> {
  if (config.ca.keyManager.type === 'memory') return;
  const keyManager = await createKeyManager(
    config.ca.keyManager,
    keyManagerContext(config, { logger: createLogger({ level: config.log.level }), clock: systemClock, env }),
  );
  try {
    if (keyManager.check) await report.step('keys', () => keyManager.check!(), (line) => `${keyManager.name}: ${line}`);
  } finally {
    await keyManager.close();
  }
}

export function registerUpstreamCommand(program: Command): void {
  const upstream = program.command('upstream').description('inspect the configured upstream authority');
  const check = upstream
    .command('check')
    .description('dry-run the upstream: config, authentication, roots, a remote key manager, and with --mint a CSR signing round trip')
    .option('-c, --config <file>', 'config file (default: $WCA_CONFIG, else the dev profile)')
    .option('--mint', 'ask the upstream to sign a test intermediate (a real, billable issuance on AWS Private CA)')
    .option('--ttl <duration>', 'lifetime requested for the test intermediate, e.g. 1h or 1h30m', '1h');
  withOutputFormat(check).action(async (flags: { config?: string; mint?: boolean; ttl: string; output: string }) => {
    await runUpstreamCheck({ config: flags.config, mint: flags.mint, ttl: flags.ttl, format: outputFormat(flags.output) });
  });
}
