import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';

/**
 * What a CLI invocation costs before it does anything: the built bin (what ships) run
 * as a container HEALTHCHECK or a script runs it. Each command's module loads only when
 * that command runs; `--help` loads every one, the same-run baseline for what that
 * saves, and a bare `node -e 0` is the floor.
 */

export interface CliStartCost {
  what: string;
  medianMs: number;
}

export interface CliStartBench {
  /** `--help`, which loads every command: what each run cost before commands loaded lazily. */
  baseline: CliStartCost;
  results: CliStartCost[];
}

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'dist/src/cli/main.js');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function measure(what: string, args: string[], runs: number): CliStartCost {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    // A refused healthcheck exits 1: the start-up is what is measured, not the answer.
    spawnSync(process.execPath, args, { cwd: root, stdio: 'ignore', env: { ...process.env, WCA_CONFIG: '' } });
    samples.push(performance.now() - start);
  }
  return { what, medianMs: median(samples) };
}

export function runCliStartBench(options: { runs?: number } = {}): CliStartBench {
  const runs = options.runs ?? 15;
  execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
  const baseline = measure('workload-ca --help (every command loaded)', [bin, '--help'], runs);
  return {
    baseline,
    results: [
      measure('node -e 0 (floor)', ['-e', '0'], runs),
      baseline,
      measure('workload-ca --version', [bin, '--version'], runs),
      measure('workload-ca healthcheck (HTTP, refused)', [bin, 'healthcheck', '--http-listen', '127.0.0.1:1', '--timeout', '1s'], runs),
      measure('workload-ca serve --help', [bin, 'serve', '--help'], runs),
    ],
  };
}

export function printCliStartBench({ baseline, results }: CliStartBench): void {
  console.log('\nCLI start-up (built bin, median wall time; ratio to --help, which loads every command):');
  for (const r of results) console.log(`  ${r.what.padEnd(44)} ${r.medianMs.toFixed(0).padStart(5)} ms  ${(r.medianMs / baseline.medianMs).toFixed(2)}x`);
}
