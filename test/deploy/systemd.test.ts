/** Issue #11 item 4: the systemd unit for VMs, checked by systemd's own analyser. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { hasTools, toolPath } from '../helpers/tools.js';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../..');
const unit = path.join(repo, 'deploy/systemd/workload-ca.service');
const sysusers = path.join(repo, 'deploy/systemd/workload-ca.sysusers.conf');

/** `Key=value` lines of the [Service] section (last one wins, as in systemd). */
function serviceSection(): Map<string, string[]> {
  const text = fs.readFileSync(unit, 'utf8');
  const section = text.slice(text.indexOf('[Service]'), text.indexOf('[Install]'));
  const keys = new Map<string, string[]>();
  for (const m of section.matchAll(/^([A-Za-z]+)=(.*)$/gm)) keys.set(m[1]!, [...(keys.get(m[1]!) ?? []), m[2]!]);
  return keys;
}

describe.runIf(hasTools('systemdAnalyze', 'systemdSysusers'))('deploy/systemd/workload-ca.service', () => {
  it('passes systemd-analyze verify with no warning (an unknown or misspelt key is a warning)', async () => {
    const { stdout, stderr } = await run(toolPath('systemdAnalyze')!, ['verify', '--man=no', unit], { timeout: 60_000 });
    expect(stdout + stderr).toBe('');
  });

  it("rates 'OK' or better in systemd-analyze security", async () => {
    const { stdout } = await run(toolPath('systemdAnalyze')!, ['security', '--offline=yes', '--no-pager', unit], { timeout: 60_000 });
    const level = Number(/Overall exposure level for workload-ca\.service: ([\d.]+)/.exec(stdout)?.[1]);
    expect(level).toBeLessThan(2.5);
  });

  it('runs as the dedicated user, hardened, with its admin socket in the runtime directory', () => {
    const keys = serviceSection();
    const one = (key: string) => keys.get(key)?.at(-1);
    expect(one('User')).toBe('workload-ca');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('CapabilityBoundingSet')).toBe('');
    expect(one('RuntimeDirectory')).toBe('workload-ca');
    expect(one('RuntimeDirectoryMode')).toBe('0700');
    expect(keys.get('Environment')).toContain('WCA_ADMIN_LISTEN=unix:/run/workload-ca/admin.sock');
  });

  it("starts the package's bin with node, not a TypeScript loader", () => {
    const { bin } = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(serviceSection().get('ExecStart')).toEqual([
      `/usr/bin/node /usr/lib/node_modules/workload-ca/${bin['workload-ca']} serve --config /etc/workload-ca/config.yaml`,
    ]);
  });

  it('the sysusers file creates that user', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-sysusers-'));
    fs.mkdirSync(path.join(root, 'etc'));
    const { stdout, stderr } = await run(toolPath('systemdSysusers')!, ['--dry-run', `--root=${root}`, sysusers], { timeout: 60_000 });
    expect(stdout + stderr).toMatch(/Creating user 'workload-ca'/);
  });
});
