import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

/**
 * Runs the CLI's `main()` in this process, as `workload-ca <args>` would run, and
 * returns its exit code and what it wrote: a new `tsx` process per case costs
 * seconds of CPU each. Tests that need a real process (signals, the bin
 * symlink, what reaches the disk) spawn one instead.
 */
export async function runMain(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const capture = (into: string[]) => (chunk: string | Uint8Array) => (into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()), true);
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture(stdout) as typeof process.stdout.write);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture(stderr) as typeof process.stderr.write);
  try {
    const code = await main(['node', 'workload-ca', ...args]);
    return { code, stdout: stdout.join(''), stderr: stderr.join('') };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
