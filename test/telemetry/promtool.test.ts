import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { startApp } from '../../src/app.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { hasTools, toolPath } from '../helpers/tools.js';

function get(socketPath: string, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path: urlPath }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}

/** `promtool check metrics`: Prometheus's own linter (naming, units, help, types). */
function promtoolCheck(exposition: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(toolPath('promtool')!, ['check', 'metrics'], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === 'string') reject(err);
      else resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr });
    });
    child.stdin!.end(exposition);
  });
}

describe.runIf(hasTools('promtool'))('/metrics passes promtool check metrics', () => {
  it('a real scrape of a running server has no lint problems', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-promtool-'));
    const config = loadConfig({
      env: {},
      flags: { sdsListen: '127.0.0.1:0', httpListen: `unix:${dir}/http.sock`, adminListen: `unix:${dir}/admin.sock` },
    });
    const app = await startApp(config, { logger: silentLogger(), env: {} });
    try {
      const scrape = await get(path.join(dir, 'http.sock'), '/metrics');
      expect(scrape).toMatch(/^wca_build_info\{.*version="[^"]+".*\} 1$/m);
      expect(scrape).toMatch(/^wca_intermediate_not_after_timestamp_seconds\{slot="active"\} \d+/m);
      const verdict = await promtoolCheck(scrape);
      expect(verdict.output).toBe('');
      expect(verdict.code).toBe(0);
    } finally {
      await app.close();
    }
  }, 60_000);
});
