import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder holding workload-ca's package.json (and protos/): the checkout when run
 * from src/ (tsx), the installed package when run from dist/src/. Found by walking up,
 * because the depth of this file differs between the two.
 */
function findPackageRoot(): string {
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string }).name === 'workload-ca') return dir;
    if (dir === path.dirname(dir)) throw new Error(`workload-ca's package.json not found above ${start}`);
  }
}

export const packageRoot: string = findPackageRoot();

/** The package's version from its package.json. */
export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}
