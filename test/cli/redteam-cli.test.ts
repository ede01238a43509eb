/**
 * Issue #12 (red team, CLI): flag values past what the server or Node can hold exit 2
 * naming the flag, `-o json` prints one JSON document on every failure, and text from
 * whoever answers a probe cannot drive the terminal. Through main() in this process.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import { cp, mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyBanner } from '../../src/cli/envoy-banner.js';
import { runMain } from './in-process.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-rt-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('duration flags are bounded where they are parsed', () => {
  const admin = ['--admin-socket', 'unix:/nonexistent/wca.sock'];
  it.each([
    // 2^32 + 60: would wrap to 60 s in the uint32 ttl_seconds.
    [['token', 'create', '--spiffe-id', 'spiffe://cluster.local/vm/a', '--ttl', '4294967356', ...admin], '--ttl: "4294967356" must be from 1s to 168h'],
    [['token', 'create', '--spiffe-id', 'spiffe://cluster.local/vm/a', '--ttl', '8d', ...admin], '--ttl: "8d" must be from 1s to 168h'],
    [['issue', '--spiffe-id', 'spiffe://cluster.local/x', '--ttl', '0'], '--ttl: "0" must be from 1s to 4h'],
    [['issue', '--spiffe-id', 'spiffe://cluster.local/x', '--ttl', '9999999h'], '--ttl: "9999999h" must be from 1s to 4h'],
    [['healthcheck', '--http-listen', '127.0.0.1:1', '--timeout', '9999999h'], '--timeout: "9999999h" must be from 1s to 10m'],
    [['healthcheck', '--http-listen', '127.0.0.1:1', '--timeout', '25d'], '--timeout: "25d" must be from 1s to 10m'],
    [['upstream', 'check', '--ttl', '400d'], '--ttl: "400d" must be from 1s to 24h'],
  ])('%j', async (args, message) => {
    const r = await runMain(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: ${message}`);
  });
});

describe('-o json prints one JSON document on failure too', () => {
  it('healthcheck: connection refused', async () => {
    const r = await runMain('healthcheck', '--http-listen', '127.0.0.1:1', '-o', 'json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(false);
    expect(j.error.code).toBe('ERR_HEALTHCHECK_FAILED');
  });

  it('healthcheck: the config fails to load', async () => {
    const file = path.join(dir, 'bad-hc.yaml');
    await writeFile(file, 'nonsense: 1\n');
    const r = await runMain('healthcheck', '-c', file, '-o', 'json');
    expect(r.code).toBe(3);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ ok: false, error: { code: 'ERR_CONFIG_INVALID' } });
  });

  it('upstream check: the config fails to load', async () => {
    const file = path.join(dir, 'bad-up.yaml');
    await writeFile(file, 'nonsense: 1\n');
    const r = await runMain('upstream', 'check', '-c', file, '-o', 'json');
    expect(r.code).toBe(3);
    const j = JSON.parse(r.stdout);
    expect(j.passed).toBe(false);
    expect(j.steps).toEqual([expect.objectContaining({ step: 'config', status: 'fail' })]);
  });
});

describe('healthcheck output', () => {
  let server: http.Server;
  let addr: string;
  beforeAll(async () => {
    server = http.createServer((_req, res) => res.writeHead(200).end('ok \x1b[2J\x1b]0;owned\x07 \r fake line\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    addr = `127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('escapes control characters of the body it prints', async () => {
    const r = await runMain('healthcheck', '--http-listen', addr);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('\\u001b[2J');
    expect(r.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });
});

describe('issue --csr', () => {
  it('refuses an endless file instead of reading it to the end', async () => {
    const r = await runMain('issue', '--spiffe-id', 'spiffe://cluster.local/x', '--csr', '/dev/zero');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: --csr: "/dev/zero" is larger than a CSR can be');
  }, 20_000);
});

describe("serve's Envoy line", () => {
  it('quotes the examples path for the shell', async () => {
    const examples = path.join(dir, "it's $(touch pwned) here");
    await mkdir(examples, { recursive: true });
    await cp(path.resolve(import.meta.dirname, '../../examples/envoy/sds-dev.yaml'), path.join(examples, 'sds-dev.yaml'));
    const [, sedLine] = envoyBanner('127.0.0.1:40123', examples);
    const command = sedLine!.trim().replace(/ > envoy\.yaml && envoy -c envoy\.yaml$/, '');
    const { stdout } = await promisify(execFile)('sh', ['-c', command], { cwd: dir });
    expect(stdout).toContain('40123');
  });
});

describe('serve --profile and environment errors', () => {
  it('serve --profile takes a profile and refuses a bad one, exit 2 naming the flag', async () => {
    const r = await runMain('serve', '--profile', 'staging');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: --profile: ');
  });

  it('a bad value from the environment names the variable', async () => {
    const previous = process.env.WCA_HTTP_LISTEN;
    process.env.WCA_HTTP_LISTEN = 'nope';
    try {
      const r = await runMain('healthcheck');
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('WCA_HTTP_LISTEN (listen.http): ');
    } finally {
      if (previous === undefined) delete process.env.WCA_HTTP_LISTEN;
      else process.env.WCA_HTTP_LISTEN = previous;
    }
  });
});
