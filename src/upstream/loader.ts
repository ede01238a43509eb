/**
 * Finds, validates and constructs the configured upstream plugin.
 *
 * `plugin` is either a built-in name (one folder per plugin under plugins/),
 * a module path (`./my-plugin.js`, `/abs/path.js`, `file:` URL; relative to
 * `baseDir`, normally the config file's folder) or an npm package name resolved
 * from workload-ca's own node_modules. The module's default export (or a named
 * `plugin` export) must be an UpstreamPlugin.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WcaError } from '../errors.js';
import type { PluginContext, UpstreamAuthority, UpstreamPlugin } from './types.js';
import { configError, type ConfigProblem } from './sdk/errors.js';
import { scheduleFrom } from './sdk/schedule.js';
import { protectionProblem } from './sdk/files.js';
import { callWithDeadline, withDeadline } from './deadline.js';

export type { ConfigProblem };

const builtinPlugins = ['self-signed', 'disk', 'pkcs11', 'vault', 'aws-acm-pca'] as const;

export interface UpstreamSpec {
  plugin: string;
  config: Record<string, unknown>;
}

export interface LoadOptions {
  /** Base folder for relative module paths; defaults to the working directory. */
  baseDir?: string;
  /** Deadline of every plugin call (create, mint, roots, close); `upstream.timeout` in config. */
  timeoutMs?: number;
  /** Only the dev profile runs a plugin module that others could rewrite; unset means production's check. */
  devProfile?: boolean;
}

/** `upstream.timeout`'s default: room for an auth round trip, a signing call and a roots read on a slow link. */
export const defaultUpstreamTimeoutMs = 120_000;

const isModulePath = (s: string) => s.startsWith('.') || s.startsWith('/') || s.startsWith('file:') || /^[A-Za-z]:[\\/]/.test(s);

function specifierFor(plugin: string, baseDir: string): string {
  if ((builtinPlugins as readonly string[]).includes(plugin)) {
    return new URL(`../../plugins/${plugin}/index.js`, import.meta.url).href;
  }
  if (plugin.startsWith('file:')) return plugin;
  if (isModulePath(plugin)) return pathToFileURL(path.resolve(baseDir, plugin)).href;
  return plugin;
}

function describe(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function isUpstreamPlugin(value: unknown): value is UpstreamPlugin {
  const v = value as Partial<UpstreamPlugin> | undefined;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.name === 'string' &&
    typeof v.create === 'function' &&
    typeof (v.configSchema as { safeParse?: unknown } | undefined)?.safeParse === 'function'
  );
}

/**
 * A module path is code we run with our keys and privileges: one that another user
 * owns, or that group or others may write, is theirs to rewrite. A missing file is
 * left to import() to report. (An npm package lives in our own node_modules.)
 */
function refuseUnsafeModule(plugin: string, file: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return;
  }
  const problem = protectionProblem(file, stat, 'code');
  if (problem !== undefined) {
    throw new WcaError('ERR_UPSTREAM_PLUGIN_LOAD', `upstream "${plugin}": refusing plugin module: ${problem}`, { details: { plugin, reason: 'unsafe-permissions' } });
  }
}

/** Import the plugin module and check it has the UpstreamPlugin shape. */
async function importPlugin(plugin: string, options: LoadOptions = {}): Promise<UpstreamPlugin> {
  const specifier = specifierFor(plugin, options.baseDir ?? process.cwd());
  if (options.devProfile !== true && isModulePath(plugin)) refuseUnsafeModule(plugin, fileURLToPath(specifier));
  let mod: Record<string, unknown>;
  try {
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (cause) {
    // Our own coded errors (a plugin's missing optional SDK) already say what to do.
    if (cause instanceof WcaError) throw cause;
    const kind = (builtinPlugins as readonly string[]).includes(plugin)
      ? 'built-in plugin'
      : isModulePath(plugin)
        ? 'plugin module'
        : `plugin package (not a built-in: ${builtinPlugins.join(', ')})`;
    throw new WcaError('ERR_UPSTREAM_PLUGIN_LOAD', `upstream "${plugin}": cannot load ${kind}: ${describe(cause)}`, {
      cause,
      details: { plugin },
    });
  }
  const candidate = mod.default ?? mod.plugin;
  if (!isUpstreamPlugin(candidate)) {
    throw new WcaError(
      'ERR_UPSTREAM_PLUGIN_LOAD',
      `upstream "${plugin}": module does not export an UpstreamPlugin ` +
        '(default export with name, configSchema (zod) and create())',
      { details: { plugin } },
    );
  }
  return candidate;
}

function formatPath(segments: readonly PropertyKey[]): string {
  return segments.reduce<string>(
    (acc, s) => (typeof s === 'number' ? `${acc}[${s}]` : `${acc}.${String(s)}`),
    'config',
  );
}

/** Problems with `config` under the plugin's schema, each with its field path. */
export function configProblems(plugin: UpstreamPlugin, config: unknown): ConfigProblem[] {
  const parsed = plugin.configSchema.safeParse(config);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}

/**
 * Dry run: loads the module and validates the config, but never calls create(),
 * so no connection is made and no secret file is read.
 */
export async function checkUpstreamConfig(spec: UpstreamSpec, options: LoadOptions = {}): Promise<ConfigProblem[]> {
  let plugin: UpstreamPlugin;
  try {
    plugin = await importPlugin(spec.plugin, options);
  } catch (err) {
    // A missing optional SDK is not a config problem: the fix is an install.
    if (err instanceof WcaError && err.code === 'ERR_UPSTREAM_DEPENDENCY_MISSING') throw err;
    return [{ path: 'plugin', message: describe(err) }];
  }
  return configProblems(plugin, spec.config);
}

/**
 * Parse config with the plugin's schema and construct the authority; the core
 * only ever sees it through the deadline adapter (deadline.ts).
 */
export async function loadUpstream(
  spec: UpstreamSpec,
  context: PluginContext,
  options: LoadOptions = {},
): Promise<UpstreamAuthority> {
  const plugin = await importPlugin(spec.plugin, { ...options, devProfile: options.devProfile ?? context.devProfile });
  const parsed = plugin.configSchema.safeParse(spec.config);
  if (!parsed.success) throw configError(spec.plugin, configProblems(plugin, spec.config));
  const deadline = { timeoutMs: options.timeoutMs ?? defaultUpstreamTimeoutMs, schedule: scheduleFrom(context) };
  let creating: Promise<UpstreamAuthority> | undefined;
  try {
    const created = await callWithDeadline(spec.plugin, 'create', deadline, undefined, () => (creating = plugin.create(parsed.data, { ...context, logger: context.logger.child({ plugin: spec.plugin }) })));
    return withDeadline(created, deadline);
  } catch (err) {
    // An authority that arrives after its deadline is closed, so it holds no connection or timer.
    creating?.then((late) => late.close(), () => undefined).catch(() => undefined);
    if (err instanceof WcaError) throw err;
    throw new WcaError('ERR_UPSTREAM_PLUGIN_LOAD', `upstream "${spec.plugin}": create() failed: ${describe(err)}`, {
      cause: err,
      details: { plugin: spec.plugin },
    });
  }
}
