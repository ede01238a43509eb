import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAdminTcpConfig } from '../../src/admin/tcp-listener.js';
import { loadConfig } from '../../src/config/load.js';
import { WcaError } from '../../src/errors.js';

const dirOf = () => fs.mkdtempSync(path.join(os.tmpdir(), 'wca-admin-tcp-config-'));
const load = (yaml: string, dir = dirOf()) => {
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(file, yaml);
  return loadConfig({ file, env: {} });
};

const tls = '    tls:\n      certFile: admin.crt\n      keyFile: admin.key\n      clientCaFile: clients.crt\n';
const allow = '    allow: [spiffe://admin.example/ops/alice]\n';

describe('admin.tcp config: mutual TLS and an allow-list, or no TCP listener at all', () => {
  it.each([
    ['no client CA', `admin:\n  tcp:\n    address: 127.0.0.1:9443\n    tls:\n      certFile: a.crt\n      keyFile: a.key\n${allow}`, /admin\.tcp\.tls\.clientCaFile/],
    ['no TLS at all', `admin:\n  tcp:\n    address: 127.0.0.1:9443\n${allow}`, /admin\.tcp\.tls/],
    ['no allow-list', `admin:\n  tcp:\n    address: 127.0.0.1:9443\n${tls}`, /admin\.tcp\.allow/],
    ['an empty allow-list', `admin:\n  tcp:\n    address: 127.0.0.1:9443\n${tls}    allow: []\n`, /admin\.tcp\.allow: .*at least one/],
    ['an allow-list entry that is no SPIFFE ID', `admin:\n  tcp:\n    address: 127.0.0.1:9443\n${tls}    allow: [alice]\n`, /admin\.tcp\.allow\.0/],
    ['a Unix socket address', `admin:\n  tcp:\n    address: unix:/tmp/a.sock\n${tls}${allow}`, /admin\.tcp\.address/],
  ])('refuses %s at load (exit 3)', (_name, yaml, message) => {
    let err: unknown;
    try {
      load(yaml);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WcaError);
    expect(err).toMatchObject({ code: 'ERR_CONFIG_INVALID', exitCode: 3, message: expect.stringMatching(message) });
  });

  it('accepts the full section, with files next to the config file', () => {
    const dir = dirOf();
    const c = load(`admin:\n  tcp:\n    address: 0.0.0.0:9443\n${tls}${allow}`, dir);
    expect(c.admin.tcp).toMatchObject({
      address: { kind: 'tcp', host: '0.0.0.0', port: 9443 },
      tls: { certFile: path.join(dir, 'admin.crt'), keyFile: path.join(dir, 'admin.key'), clientCaFile: path.join(dir, 'clients.crt') },
      allow: ['spiffe://admin.example/ops/alice'],
      connections: { handshakeTimeout: 10, perAddress: 8, max: 64 },
    });
    expect(load('trustDomain: x.example\n').admin.tcp).toBeUndefined();
  });

  it('a missing or unusable file is a config error at start, naming the key', async () => {
    const dir = dirOf();
    const c = load(`admin:\n  tcp:\n    address: 127.0.0.1:9443\n${tls}${allow}`, dir);
    await expect(readAdminTcpConfig(c.admin.tcp!)).rejects.toMatchObject({ code: 'ERR_CONFIG_FILE', exitCode: 3, message: expect.stringMatching(/admin\.tcp\.tls\.certFile/) });
    for (const f of ['admin.crt', 'admin.key', 'clients.crt']) fs.writeFileSync(path.join(dir, f), 'not PEM\n');
    await expect(readAdminTcpConfig(c.admin.tcp!)).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', exitCode: 3, message: expect.stringMatching(/^admin\.tcp\.tls: /) });
  });
});
