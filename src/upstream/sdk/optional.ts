/**
 * Vendor SDKs (pkcs11js, the AWS SDK) are optionalDependencies: an install
 * without them needs no C++ toolchain and carries no SDK it does not use. A plugin
 * imports its SDK through this, so a configured backend whose package is absent (or,
 * for a native addon, was installed without being built) fails with one coded error
 * naming the package, instead of a resolver stack trace.
 */
import { WcaError } from './errors.js';
import { importOptional as importOrExplain } from '../../optional-import.js';

/** `load` is the plugin's own `() => import('pkg')`, so the specifier stays literal and typed. */
export function importOptional<T>(plugin: string, pkg: string, load: () => Promise<T>): Promise<T> {
  return importOrExplain(
    load,
    (cause) =>
      new WcaError(
        'ERR_UPSTREAM_DEPENDENCY_MISSING',
        `upstream "${plugin}" needs the npm package ${pkg}, which is not installed or not built ` +
          `(it is an optional dependency of workload-ca: install it with "npm install ${pkg}" where workload-ca is installed)`,
        { cause, details: { plugin, package: pkg } },
      ),
  );
}
