/**
 * The package as a user gets it: `npm pack` (which runs prepack: a clean build) and
 * `npm install --omit=optional --ignore-scripts <tarball>` into an empty folder, from
 * the local npm cache where it can. Slow-ish (a full tsc build), so suites share one
 * per file in beforeAll.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const repoRoot = path.resolve(import.meta.dirname, '../..');

export interface PackedInstall {
  /** The folder npm installed into. */
  dir: string;
  /** node_modules/workload-ca inside it. */
  packageDir: string;
  tarball: string;
  /** Paths inside the tarball, relative to its package/ folder, sorted. */
  files: string[];
}

export async function packAndInstall(): Promise<PackedInstall> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-packed-'));
  const npm = { env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' }, maxBuffer: 64 * 1024 * 1024 };
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { ...npm, cwd: repoRoot, timeout: 240_000 });
  const [info] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  const tarball = path.join(dir, info!.filename);
  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'wca-install-check', private: true }));
  await run('npm', ['install', '--omit=optional', '--ignore-scripts', '--prefer-offline', '--no-package-lock', tarball], { ...npm, cwd: app, timeout: 240_000 });
  return { dir: app, packageDir: path.join(app, 'node_modules/workload-ca'), tarball, files: info!.files.map((f) => f.path).sort() };
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; a non-zero exit is a result, not a throw. */
export async function runCommand(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await run(file, args, { ...options, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

export interface RunningServer {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `serve` (or anything printing the root fingerprint when up) and waits until it is serving. */
export async function startServer(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<RunningServer> {
  const child = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      stdout += d;
      if (/root\s+sha256/.test(stdout)) resolve();
    });
    void exited.then((code) => reject(new Error(`exited early with ${code}: ${stderr}`)));
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

export function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}
