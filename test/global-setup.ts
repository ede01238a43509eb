/**
 * Runs once before the suites: names every missing system tool in one line, so a
 * fresh machine's skips are explained (with CI=true the run fails instead), and
 * transpiles the sources that tests run as separate processes.
 */
import { buildForTests } from './helpers/test-build.js';
import { missingTools, tools, type ToolName } from './helpers/tools.js';

export default async function setup(): Promise<() => void> {
  const removeBuild = await buildForTests();
  const missing = missingTools(Object.keys(tools) as ToolName[]);
  if (missing.length === 0) return removeBuild;
  const list = missing.map((n) => `${tools[n].bin} (${tools[n].install})`).join('; ');
  if (process.env.CI === 'true') {
    removeBuild();
    throw new Error(`CI=true: required test tools are missing: ${list}`);
  }
  process.stdout.write(`\nworkload-ca tests: suites that need these tools are skipped: ${list}\n\n`);
  return removeBuild;
}
