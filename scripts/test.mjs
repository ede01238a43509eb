#!/usr/bin/env node
/**
 * `npm test`: the type check and the suites side by side. Most suites wait on
 * sockets, timers and child processes, leaving CPU that `tsc` fills (with TypeScript
 * 5, one after the other took 129 s, side by side 114 s; TypeScript 7's check is about
 * 5 s of CPU, run at a lower priority so the suites' start-up goes first). Both must
 * pass. Arguments go to vitest (`npm test -- test/sds`). The type check's
 * output is printed after the suites'.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const node = process.execPath;

/** The JavaScript file of a dependency's command, from its package.json "bin". */
function bin(pkg, name) {
  const manifest = require.resolve(`${pkg}/package.json`);
  const { bin: bins } = JSON.parse(fs.readFileSync(manifest, 'utf8'));
  return path.join(path.dirname(manifest), typeof bins === 'string' ? bins : bins[name]);
}

const children = [];

/** `niceness` > 0 runs the child (and what it starts) on the CPU others leave idle. */
function run(args, options, niceness = 0) {
  const child = spawn(node, args, options);
  children.push(child);
  try {
    if (niceness > 0) os.setPriority(child.pid, niceness);
  } catch {
    // Not permitted (some containers): it then just shares the CPU.
  }
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code: code ?? 128, signal, output })));
}

const typecheck = run([bin('typescript', 'tsc'), '-p', 'tsconfig.json', '--noEmit'], { stdio: ['ignore', 'pipe', 'pipe'] }, 15);
const suites = run([bin('vitest', 'vitest'), 'run', ...process.argv.slice(2)], { stdio: 'inherit' });

// A signal for `npm test` is passed to both; this process exits when they have.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => children.forEach((c) => c.kill(signal)));

const [types, tests] = await Promise.all([typecheck, suites]);
if (types.code !== 0) {
  process.stderr.write(`\ntype check (tsc -p tsconfig.json --noEmit) failed:\n${types.output}\n`);
}
process.stdout.write(`type check: ${types.code === 0 ? 'passed' : 'FAILED'}; suites: ${tests.code === 0 ? 'passed' : 'FAILED'}\n`);
process.exit(types.code !== 0 ? types.code : tests.code);
