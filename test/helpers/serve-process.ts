import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { cliEntry } from './test-build.js';

const root = path.resolve(import.meta.dirname, '../..');

export interface ServeProcess {
  child: ChildProcess;
  /** Sends a signal to the server itself (under `wrap`, the wrapper's child, not the wrapper). */
  signal(signal: NodeJS.Signals): void;
  /** Printed listener addresses. */
  sds: string;
  http: string;
  /** Everything written to stderr so far (the shutdown lines, errors). */
  stderr(): string;
  /** Settles when the process exits, with its code and the milliseconds since `since`. */
  exited(since: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

/**
 * Starts the real `workload-ca serve` process (dev profile, the test build) with a config made
 * of `sds` (its listen address, given the scratch folder) and extra YAML lines;
 * `wrap` puts a command before node (strace). Resolves once the addresses are printed.
 */
export async function serveProcess(options: { sds: (dir: string) => string; yaml?: string; wrap?: string[]; logLevel?: string }): Promise<ServeProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-serve-'));
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    config,
    `listen: { sds: "${options.sds(dir)}", http: "127.0.0.1:0", admin: "unix:${dir}/admin.sock" }\nlog: { level: ${options.logLevel ?? 'warn'} }\n${options.yaml ?? ''}`,
  );
  const [command, ...prefix] = [...(options.wrap ?? []), process.execPath];
  const child = spawn(command!, [...prefix, cliEntry, 'serve', '-c', config], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  // Under a wrapper, the server is the wrapper's only child; strace would not pass a signal on.
  const serverPid = () =>
    options.wrap ? Number(fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]) : child.pid!;
  let pid: number | undefined;
  onTestFinished(() => {
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const printed = (name: string) => new RegExp(`^\\s+${name}\\s+(\\S+)$`, 'm').exec(stdout)?.[1];
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      if (printed('sds') && printed('http')) resolve();
    });
    void exit.then(({ code }) => reject(new Error(`serve exited ${code} before listening: ${stderr}`)));
  });
  pid = serverPid();
  return {
    child,
    signal: (signal) => process.kill(pid!, signal),
    sds: printed('sds')!,
    http: printed('http')!,
    stderr: () => stderr,
    exited: (since) => exit.then(({ code, signal, at }) => ({ code, signal, ms: at - since })),
  };
}
