/**
 * Optional npm dependencies (vendor SDKs, the PostgreSQL client) are loaded only
 * when configured: an install without them needs no C++ toolchain and carries
 * nothing it does not use. A missing package becomes the caller's coded error
 * naming it, instead of a resolver stack trace.
 */
import type { WcaError } from './errors.js';

const notFound = new Set(['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND']);

/** `load` is the caller's own `() => import('pkg')`, so the specifier stays literal and typed. */
export async function importOptional<T>(load: () => Promise<T>, missing: (cause: unknown) => WcaError): Promise<T> {
  try {
    return await load();
  } catch (cause) {
    if (!notFound.has((cause as { code?: unknown } | undefined)?.code as string)) throw cause;
    throw missing(cause);
  }
}
