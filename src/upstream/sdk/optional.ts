/**
 * Vendor SDKs (pkcs11js, the AWS SDK, node-vault) are optionalDependencies: an install
 * without them needs no C++ toolchain and carries no SDK it does not use. A plugin
 * imports its SDK through this, so a configured backend whose package is absent (or,
 * for a native addon, was installed without being built) fails with one coded error
 * naming the package, instead of a resolver stack trace.
 */
import { WcaError } from './errors.js';

const notFound = new Set(['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND']);

/** `load` is the plugin's own `() => import('pkg')`, so the specifier stays literal and typed. */
export async function importOptional<T>(plugin: string, pkg: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (cause) {
    if (!notFound.has((cause as { code?: unknown } | undefined)?.code as string)) throw cause;
    throw new WcaError(
      'ERR_UPSTREAM_DEPENDENCY_MISSING',
      `upstream "${plugin}" needs the npm package ${pkg}, which is not installed or not built ` +
        `(it is an optional dependency of workload-ca: install it with "npm install ${pkg}" where workload-ca is installed)`,
      { cause, details: { plugin, package: pkg } },
    );
  }
}
