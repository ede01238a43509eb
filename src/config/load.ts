import fs from 'node:fs';
import path from 'node:path';
import { isScalar, parseDocument, visit } from 'yaml';
import { z } from 'zod';
import { WcaError } from '../errors.js';
import { readAtMost } from '../bounded-read.js';
import { limits } from '../limits.js';
import { protectionProblem } from '../upstream/sdk/files.js';
import { configSchema, type Config } from './schema.js';
import { resolveFilePaths } from './file-paths.js';
import { suggestKey } from './suggest.js';
import { parseSpiffeIdIn, parseTrustDomain } from '../spiffe/id.js';
import { refuseReserved } from '../spiffe/reserved.js';
import { resolveSdsTransport } from '../transport/sds-transport.js';
import { selectAuthenticators } from './authenticators.js';
import { defaultAdminSocketPath } from '../admin/socket-path.js';

/** Flags that override config and environment (the CLI's `serve` options). */
export interface ConfigFlags {
  sdsListen?: string;
  httpListen?: string;
  adminListen?: string;
  trustDomain?: string;
  logLevel?: string;
  profile?: string;
}

/** Environment variables that override the config file; flags override them. */
const envOverrides: Record<string, string> = {
  WCA_PROFILE: 'profile',
  WCA_TRUST_DOMAIN: 'trustDomain',
  WCA_SDS_LISTEN: 'listen.sds',
  WCA_HTTP_LISTEN: 'listen.http',
  WCA_ADMIN_LISTEN: 'listen.admin',
  WCA_LOG_LEVEL: 'log.level',
  WCA_UPSTREAM_PLUGIN: 'upstream.plugin',
};

const flagPaths: Record<keyof ConfigFlags, string> = {
  profile: 'profile',
  trustDomain: 'trustDomain',
  sdsListen: 'listen.sds',
  httpListen: 'listen.http',
  adminListen: 'listen.admin',
  logLevel: 'log.level',
};

export interface LoadOptions {
  /** YAML file; falls back to $WCA_CONFIG; none means the embedded dev profile. */
  file?: string;
  env?: Readonly<Record<string, string | undefined>>;
  flags?: ConfigFlags;
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env.WCA_CONFIG;
  const { doc: raw, unsafe } = file ? readYaml(file) : { doc: {} as Record<string, unknown>, unsafe: undefined };
  const fileProfile = raw.profile;
  if (file) resolveFilePaths(raw, path.dirname(path.resolve(file)));
  for (const [name, path] of Object.entries(envOverrides)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(raw, path, value);
  }
  for (const [flag, path] of Object.entries(flagPaths)) {
    const value = options.flags?.[flag as keyof ConfigFlags];
    if (value !== undefined) setPath(raw, path, value);
  }
  refuseProfileOverride(fileProfile, raw.profile, options.flags?.profile !== undefined ? '--profile' : 'WCA_PROFILE', file);
  // Whoever can rewrite the file decides who gets certificates: in production only we (or root) may.
  if (unsafe !== undefined && raw.profile === 'production') {
    throw new WcaError('ERR_CONFIG_FILE', `config file ${unsafe}`, { details: { reason: 'unsafe-permissions' } });
  }
  // The admin socket's default depends on the user and environment (admin/socket-path.ts).
  const listen = raw.listen ?? {};
  if (typeof listen === 'object' && !Array.isArray(listen) && (listen as Record<string, unknown>).admin === undefined) {
    setPath(raw, 'listen.admin', `unix:${defaultAdminSocketPath(env)}`);
  }
  const parsed = configSchema.safeParse(raw);
  let problems = parsed.success
    ? consistencyProblems(parsed.data)
    : [...schemaProblems(parsed.error), ...consistencyProblemsBeyond(raw, parsed.error)];
  const badFlags = flagProblems(problems, options.flags);
  if (badFlags.length > 0) throw new WcaError('ERR_USAGE', badFlags.join('; '), { details: { problems: badFlags } });
  if (problems.length > 0) {
    problems = envNamedProblems(problems, env, options.flags);
    throw new WcaError('ERR_CONFIG_INVALID', `invalid configuration${file ? ` in ${file}` : ''}:\n  ${problems.join('\n  ')}`, {
      details: { problems },
    });
  }
  return Object.freeze(parsed.data!);
}

/**
 * A problem with a value given as a flag is a usage error (exit 2) that names the
 * flag the user typed (`--sds-listen: …`), not the config key it sets.
 */
function flagProblems(problems: readonly string[], flags: ConfigFlags | undefined): string[] {
  const named: string[] = [];
  for (const [flag, keyPath] of Object.entries(flagPaths)) {
    if (flags?.[flag as keyof ConfigFlags] === undefined) continue;
    const name = `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    for (const problem of problems) if (problem.startsWith(`${keyPath}: `)) named.push(`${name}: ${problem.slice(keyPath.length + 2)}`);
  }
  return named;
}

/** A value that came from the environment is blamed on its variable (`WCA_HTTP_LISTEN: …`), the key it sets in brackets. */
function envNamedProblems(problems: readonly string[], env: Readonly<Record<string, string | undefined>>, flags: ConfigFlags | undefined): string[] {
  const fromEnv = Object.entries(envOverrides).filter(([name, keyPath]) => {
    const flag = Object.entries(flagPaths).find(([, p]) => p === keyPath)?.[0] as keyof ConfigFlags | undefined;
    return env[name] !== undefined && env[name] !== '' && (flag === undefined || flags?.[flag] === undefined);
  });
  return problems.map((problem) => {
    const hit = fromEnv.find(([, keyPath]) => problem.startsWith(`${keyPath}: `));
    return hit ? `${hit[0]} (${hit[1]}): ${problem.slice(hit[1].length + 2)}` : problem;
  });
}

/**
 * The profile decides how callers are authenticated: a stray WCA_PROFILE=dev must
 * not turn a file that says `profile: production` into an unauthenticated CA.
 * Overriding a profile the file leaves unset is fine.
 */
function refuseProfileOverride(inFile: unknown, effective: unknown, source: string, file: string | undefined): void {
  if (inFile === undefined || inFile === effective) return;
  throw new WcaError(
    'ERR_CONFIG_INVALID',
    `profile: ${source}=${String(effective)} contradicts "profile: ${String(inFile)}" in ${file}; remove one of them`,
    { details: { field: 'profile', reason: 'profile-override', file: String(inFile), override: String(effective), source } },
  );
}

/** The file's YAML, and why its owner or mode would not do for the production profile (checked once the profile is known). */
function readYaml(file: string): { doc: Record<string, unknown>; unsafe?: string } {
  let text: string;
  let unsafe: string | undefined;
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    // Checked on the descriptor read from, so a file swapped in between is not read unchecked.
    unsafe = protectionProblem(file, fs.fstatSync(fd), 'code');
    // Bounded before parsing: YAML parsing a wide map costs far more than its bytes.
    const data = readAtMost(fd, limits.configFileMaxBytes);
    if (data === undefined) {
      throw new WcaError('ERR_CONFIG_FILE', `config file ${file} is larger than ${limits.configFileMaxBytes} bytes`, { details: { reason: 'too-large', max: limits.configFileMaxBytes } });
    }
    text = data.toString('utf8');
  } catch (err) {
    if (err instanceof WcaError) throw err;
    throw new WcaError('ERR_CONFIG_FILE', `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  let doc: unknown;
  try {
    doc = parseYamlStrictly(text);
  } catch (err) {
    // The parser's message ends in a code frame (the line and a caret); config files hold no secrets (those are env/file references).
    throw new WcaError('ERR_CONFIG_FILE', `config file ${file} is not valid YAML: ${(err as Error).message.trimEnd()}`);
  }
  if (doc === null || doc === undefined) return { doc: {}, unsafe };
  if (typeof doc !== 'object' || Array.isArray(doc) || Object.getPrototypeOf(doc) !== Object.prototype) {
    throw new WcaError('ERR_CONFIG_FILE', `config file ${file} must contain a mapping at the top level`);
  }
  return { doc: doc as Record<string, unknown>, unsafe };
}

/**
 * YAML errors and warnings both refuse the file: a warning (an unknown tag such
 * as `!!js/function`) would otherwise turn a value silently into a string, and
 * the parser would print it to stderr behind our back.
 */
function parseYamlStrictly(text: string): unknown {
  // The parser's own duplicate-key check compares every key with every other (20 000 keys: seconds); ours is a Set per map.
  const document = parseDocument(text, { uniqueKeys: false });
  const problem = document.errors[0] ?? document.warnings[0];
  if (problem) throw problem;
  visit(document, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        // A scalar key is compared by value, as the parser would; any other key is only ever equal to itself.
        const value = isScalar(key) ? key.value : key;
        if (seen.has(value)) throw new Error(`Map keys must be unique: "${String(value).slice(0, 64)}" appears twice`);
        seen.add(value);
      }
    },
  });
  return document.toJS();
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const child = node[key];
    if (typeof child !== 'object' || child === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

const pathText = (at: readonly PropertyKey[]) => (at.length ? at.map(String).join('.') : '(top level)');

function schemaProblems(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => {
    if (issue.code !== 'unrecognized_keys') return [`${pathText(issue.path)}: ${issue.message}`];
    // A file of thousands of junk keys gets a readable error (and no suggestion search per key).
    const shown = issue.keys.slice(0, limits.configUnknownKeysShown).map((key) => {
      const hint = suggestKey(configSchema, issue.path, key);
      return `${pathText([...issue.path, key])}: unknown key${hint ? ` (did you mean "${hint}"?)` : ''}`;
    });
    const more = issue.keys.length - shown.length;
    return more > 0 ? [...shown, `${pathText(issue.path)}: and ${more} more unknown keys`] : shown;
  });
}

/** Removes what an issue is about: the unknown keys, else the bad value (or, when it is missing, its parent). */
function removeIssue(raw: Record<string, unknown>, issue: z.core.$ZodIssue): boolean {
  const parentOf = (at: readonly PropertyKey[]): unknown =>
    at.reduce<unknown>((node, key) => (typeof node === 'object' && node !== null ? (node as Record<PropertyKey, unknown>)[key] : undefined), raw);
  const at = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
  for (let depth = at.length; depth > 0; depth--) {
    const parent = parentOf(at.slice(0, depth - 1));
    const key = at[depth - 1]!;
    const container = Array.isArray(parent) || (typeof parent === 'object' && parent !== null && Object.getPrototypeOf(parent) === Object.prototype);
    if (!container || !(key in parent)) continue;
    if (issue.code === 'unrecognized_keys') for (const k of issue.keys) delete (parent as Record<string, unknown>)[k];
    else if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete (parent as Record<PropertyKey, unknown>)[key];
    return true;
  }
  return false;
}

/**
 * The cross-field problems a schema error would otherwise hide until it is fixed:
 * drop every value the schema refused (its default takes over) and check what
 * remains, so one run reports everything. Problems about a dropped key are left
 * out: they would describe the default, not the file.
 */
function consistencyProblemsBeyond(raw: Record<string, unknown>, error: z.ZodError): string[] {
  const candidate = structuredClone(raw);
  const dropped: string[] = [];
  let issues = error.issues;
  for (let round = 0; round < 8; round++) {
    for (const issue of issues) {
      if (!removeIssue(candidate, issue)) return [];
      const keys = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...issue.path, k]) : [issue.path];
      dropped.push(...keys.map((at) => at.map(String).join('.')));
    }
    const again = configSchema.safeParse(candidate);
    if (again.success) {
      return consistencyProblems(again.data).filter((problem) => !dropped.some((key) => key !== '' && problem.includes(key)));
    }
    issues = again.error.issues;
  }
  return [];
}

/** The Unix socket's one identity must be a workload ID of our own trust domain. */
function unixIdentityProblems(spiffeId: string, trustDomain: string): string[] {
  try {
    refuseReserved(parseSpiffeIdIn(spiffeId, trustDomain).uri, trustDomain, 'the Unix socket identity');
    return [];
  } catch (err) {
    return [`identity.unix.spiffeId: ${(err as Error).message}`];
  }
}

/**
 * Production refuses a Vault reached over plain http: the token, AppRole secret
 * ID or Kubernetes JWT, and every certificate and digest, would cross the network
 * readable and changeable by anyone on the path. The dev profile allows it (the
 * plugins warn) for a local `bao server -dev`.
 */
function plainHttpVaultProblems(config: Config): string[] {
  if (config.profile !== 'production') return [];
  const plain = (address: unknown) => typeof address === 'string' && /^http:/i.test(address);
  const problems: string[] = [];
  const why = 'is plain http; the production profile needs https (tokens and secrets would travel unencrypted)';
  if (config.upstream.plugin === 'vault' && plain(config.upstream.config.address)) problems.push(`upstream.config.address: ${why}`);
  if (config.ca.keyManager.type === 'vault-transit' && plain(config.ca.keyManager.address)) problems.push(`ca.keyManager.address: ${why}`);
  return problems;
}

function consistencyProblems(config: Config): string[] {
  const problems: string[] = [];
  try {
    parseTrustDomain(config.trustDomain);
  } catch (err) {
    problems.push(`trustDomain: ${(err as Error).message}`);
  }
  const { ca } = config;
  if (ca.leafTtl > ca.leafMaxTtl) problems.push(`ca.leafTtl: ${ca.leafTtl}s is above ca.leafMaxTtl (${ca.leafMaxTtl}s)`);
  if (ca.leafMaxTtl >= ca.intermediateTtl) {
    problems.push(`ca.leafMaxTtl: ${ca.leafMaxTtl}s must be shorter than ca.intermediateTtl (${ca.intermediateTtl}s)`);
  }
  if (ca.leafTtl <= 0) problems.push('ca.leafTtl: must be positive');
  if (config.profile === 'production' && config.upstream.plugin === 'self-signed') {
    problems.push('upstream.plugin: "self-signed" keeps its root in memory and is for the dev profile only');
  }
  problems.push(...plainHttpVaultProblems(config));
  try {
    resolveSdsTransport(config.sds.transport, config.profile, config.listen.sds);
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (config.listen.admin.kind !== 'unix') problems.push('listen.admin: the admin API listens on a Unix socket only (unix:/path)');
  problems.push(...selectAuthenticators(config).problems);
  if (config.identity.unix) problems.push(...unixIdentityProblems(config.identity.unix.spiffeId, config.trustDomain));
  return problems;
}
