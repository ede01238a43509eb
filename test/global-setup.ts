/**
 * Runs once before the suites: names every missing system tool in one line, so a
 * fresh machine's skips are explained; with CI=true the run fails instead.
 */
import { missingTools, tools, type ToolName } from './helpers/tools.js';

export default function setup(): void {
  const missing = missingTools(Object.keys(tools) as ToolName[]);
  if (missing.length === 0) return;
  const list = missing.map((n) => `${tools[n].bin} (${tools[n].install})`).join('; ');
  if (process.env.CI === 'true') throw new Error(`CI=true: required test tools are missing: ${list}`);
  process.stdout.write(`\nworkload-ca tests: suites that need these tools are skipped: ${list}\n\n`);
}
