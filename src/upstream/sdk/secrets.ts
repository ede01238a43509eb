/**
 * Secrets (PINs, passphrases) come from an environment variable or a file,
 * never from the config file itself. The value is returned to the caller only:
 * errors name the variable or path, never the content.
 */
import type { PluginContext } from '../types.js';
import { configError } from './errors.js';
import { readProtectedFile } from './files.js';

export interface SecretSource {
  /** Name of the environment variable holding the secret. */
  env?: string;
  /** Path of a file holding the secret; one trailing newline is ignored. Group/other-writable is refused in production (files.ts says why readable is not). */
  file?: string;
}

/**
 * Reads the secret; `fields` names the config keys for errors, e.g.
 * { env: 'config.pinEnv', file: 'config.pinFile' }. Undefined when no source is set.
 */
export async function readSecret(
  plugin: string,
  source: SecretSource,
  fields: { env: string; file: string },
  /** Without devProfile (key managers), the production rule applies. */
  context: Pick<PluginContext, 'env' | 'logger'> & Partial<Pick<PluginContext, 'devProfile'>>,
): Promise<string | undefined> {
  if (source.env !== undefined) {
    const value = context.env[source.env];
    if (value === undefined || value === '') {
      throw configError(plugin, [{ path: fields.env, message: `environment variable ${source.env} is not set or empty` }]);
    }
    return value;
  }
  if (source.file !== undefined) {
    const file = await readProtectedFile(plugin, fields.file, source.file, 'secret', { devProfile: context.devProfile ?? false, logger: context.logger });
    const value = file.replace(/\r?\n$/, '');
    if (value === '') throw configError(plugin, [{ path: fields.file, message: `${source.file} is empty` }]);
    return value;
  }
  return undefined;
}
