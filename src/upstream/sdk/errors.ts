/**
 * The error types a plugin may throw. Plugins import this instead of the core's
 * src/errors.ts so the SDK stays the only surface they depend on.
 */
import { WcaError } from '../../errors.js';

export { WcaError, isWcaError, type ErrorCode } from '../../errors.js';

export interface ConfigProblem {
  /** "plugin" or a field path under config, e.g. "config.auth.roleId". */
  path: string;
  message: string;
}

/**
 * The one shape of a config error, from the loader's schema check or a plugin's
 * own checks at create(): `upstream "<plugin>": <path>: <problem>; ...`.
 */
export function configError(plugin: string, problems: ConfigProblem[], cause?: unknown): WcaError {
  const text = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
  return new WcaError('ERR_UPSTREAM_CONFIG', `upstream "${plugin}": ${text}`, { cause, details: { plugin, problems } });
}
