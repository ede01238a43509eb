import path from 'node:path';

/** `file`, `caFile`, `jwksFile`, …: the naming convention for config keys that hold a path. */
const isPathKey = (key: string) => key === 'file' || /[a-z]File$/.test(key);

/**
 * Relative paths in a config file mean "next to this file", wherever the process
 * was started from: every string under a `file`/`…File` key (plugin configs
 * included, which the loader cannot otherwise know) is resolved against `dir`.
 * Mutates `node`, a plain object fresh from the YAML parser.
 */
export function resolveFilePaths(node: unknown, dir: string, seen = new WeakSet<object>()): void {
  // YAML aliases can make the tree a graph, even a cycle (`a: &x [*x]`).
  if (typeof node !== 'object' || node === null || seen.has(node)) return;
  seen.add(node);
  if (Array.isArray(node)) {
    for (const item of node) resolveFilePaths(item, dir, seen);
    return;
  }
  const record = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(record)) {
    if (isPathKey(key) && typeof value === 'string' && value !== '' && !path.isAbsolute(value)) {
      record[key] = path.resolve(dir, value);
    } else {
      resolveFilePaths(value, dir, seen);
    }
  }
}
