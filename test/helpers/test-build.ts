/**
 * workload-ca as tests start it in a separate process: node on a JavaScript copy of
 * src/ and plugins/ that test/global-setup.ts transpiles once per run with esbuild
 * (what tsx does in every process it starts, where it also costs a loader thread per
 * signer worker). Types are checked by `tsc --noEmit` in `npm test`; the published
 * build (tsc, dist/) has its own suite in test/ship/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

export const repoRoot = path.resolve(import.meta.dirname, '../..');

/** Every vitest run's builds live here, inside the checkout, so node_modules and workload-ca's package.json (protos, migrations) are found from them. */
const buildsDir = path.join(repoRoot, '.test-build');

/**
 * This run's build: one folder per vitest run (named by the global setup in
 * WCA_TEST_BUILD, which the workers inherit), so two runs in one checkout never
 * rebuild the files the other is starting processes from.
 */
export const testBuildDir = process.env.WCA_TEST_BUILD ?? path.join(buildsDir, `run-${process.pid}`);

/** The CLI's entry: `spawn(process.execPath, [cliEntry, 'serve', ...])`. */
export const cliEntry = path.join(testBuildDir, 'src/cli/main.js');

/** The built form of a TypeScript file of the checkout, e.g. a test's child-process script. */
export const builtPath = (sourceFile: string): string =>
  path.join(testBuildDir, path.relative(repoRoot, sourceFile).replace(/\.ts$/, '.js'));

/** Test files themselves are not built: only what a child process runs (fixtures, helpers it imports). */
const roots = ['src', 'plugins', 'test'];

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(repoRoot, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(rel);
    return /(?<!\.d|\.test)\.ts$/.test(entry.name) ? [rel] : [];
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Transpiles into this run's folder and returns a function that removes it; builds
 * of runs that ended without removing theirs (killed) go too. One file in, one file
 * out (no bundling), so relative imports, import.meta.url and the signer worker's
 * path keep working.
 */
export async function buildForTests(): Promise<() => void> {
  for (const entry of fs.existsSync(buildsDir) ? fs.readdirSync(buildsDir) : []) {
    const pid = /^run-(\d+)$/.exec(entry)?.[1];
    if (pid === undefined || !alive(Number(pid))) fs.rmSync(path.join(buildsDir, entry), { recursive: true, force: true });
  }
  process.env.WCA_TEST_BUILD = testBuildDir;
  await build({
    absWorkingDir: repoRoot,
    entryPoints: roots.flatMap(sources),
    outdir: testBuildDir,
    outbase: '.',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  return () => fs.rmSync(testBuildDir, { recursive: true, force: true });
}
