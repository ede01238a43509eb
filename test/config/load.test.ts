import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { WcaError } from '../../src/errors.js';
import { defaultAdminSocketPath } from '../../src/admin/socket-path.js';

const tmpFile = (content: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-config-'));
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(file, content);
  return file;
};

const errorOf = (f: () => unknown): WcaError => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(WcaError);
    return err as WcaError;
  }
  throw new Error('expected an error');
};

describe('config loading', () => {
  it('with nothing given runs the dev profile with documented defaults', () => {
    const c = loadConfig({ env: {} });
    expect(c.profile).toBe('dev');
    expect(c.trustDomain).toBe('cluster.local');
    expect(c.listen.sds).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 8234 });
    expect(c.listen.http).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 8235 });
    expect(c.listen.admin).toEqual({ kind: 'unix', path: defaultAdminSocketPath({}) });
    expect(c.upstream.plugin).toBe('self-signed');
    expect(c.ca.keyType).toBe('ec-p256');
  });

  it('layers file < environment < flags', () => {
    const file = tmpFile('trustDomain: file.local\nlisten:\n  sds: 127.0.0.1:1000\n  http: 127.0.0.1:2000\nca:\n  leafTtl: 30m\n');
    const c = loadConfig({
      file,
      env: { WCA_TRUST_DOMAIN: 'env.local', WCA_HTTP_LISTEN: 'unix:/tmp/x.sock' },
      flags: { trustDomain: 'flag.local' },
    });
    expect(c.trustDomain).toBe('flag.local');
    expect(c.listen.http).toEqual({ kind: 'unix', path: '/tmp/x.sock' });
    expect(c.listen.sds).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 1000 });
    expect(c.ca.leafTtl).toBe(1800);
  });

  it('reads $WCA_CONFIG when no file is given', () => {
    const file = tmpFile('trustDomain: from-env-file.local\n');
    expect(loadConfig({ env: { WCA_CONFIG: file } }).trustDomain).toBe('from-env-file.local');
  });

  it.each([
    ['unknown key', 'ca:\n  leafTTL: 1h\n', /ca\.leafTTL: unknown key/],
    ['bad duration', 'ca:\n  leafTtl: forever\n', /ca\.leafTtl: "forever" is not a duration/],
    ['bad listen address', 'listen:\n  sds: localhost\n', /listen\.sds: "localhost": expected host:port/],
    ['relative unix socket', 'listen:\n  admin: unix:admin.sock\n', /listen\.admin: .*must be absolute/],
    ['bad key type', 'ca:\n  keyType: dsa\n', /ca\.keyType/],
    ['bad trust domain', 'trustDomain: Bad_Domain!\n', /trustDomain: .*lowercase letters/],
    ['leaf TTL above max', 'ca:\n  leafTtl: 2d\n  leafMaxTtl: 1d\n  intermediateTtl: 3d\n', /ca\.leafTtl: 172800s is above ca\.leafMaxTtl/],
    ['leaf max not below intermediate', 'ca:\n  leafMaxTtl: 2d\n', /ca\.leafMaxTtl: .*shorter than ca\.intermediateTtl/],
    ['self-signed in production', 'profile: production\n', /upstream\.plugin: "self-signed" .* dev profile only/],
    ['plaintext SDS in production', 'profile: production\nupstream:\n  plugin: disk\nsds:\n  transport: plaintext\n', /sds\.transport: plaintext/],
    ['plaintext SDS off loopback in dev', 'listen:\n  sds: 0.0.0.0:8234\nsds:\n  transport: plaintext\n', /sds\.transport: plaintext .* loopback/],
    ['admin API on TCP', 'listen:\n  admin: 127.0.0.1:9000\n', /listen\.admin: .*Unix socket only/],
    ['a token authenticator before mtls', 'sds:\n  authenticators: [join-token, mtls]\n', /mtls must come before join-token/],
    ['an authenticator that is not configured', 'sds:\n  authenticators: [jwt]\n', /"jwt" is not available here/],
    ['a queued-issuance bound of zero', 'ca:\n  maxQueuedIssuance: 0\n', /ca\.maxQueuedIssuance/],
    ['a queued-issuance bound above its ceiling', 'ca:\n  maxQueuedIssuance: 50001\n', /ca\.maxQueuedIssuance/],
    ['a fractional queued-issuance bound', 'ca:\n  maxQueuedIssuance: 1.5\n', /ca\.maxQueuedIssuance/],
    ['an issuance wait above its ceiling', 'ca:\n  maxIssuanceWait: 11s\n', /ca\.maxIssuanceWait/],
    ['an issuance wait of zero', 'ca:\n  maxIssuanceWait: 0s\n', /ca\.maxIssuanceWait/],
    ['a per-instance stream cap of zero', 'sds:\n  maxStreamsPerInstance: 0\n', /sds\.maxStreamsPerInstance/],
    ['a per-instance stream cap above its ceiling', 'sds:\n  maxStreamsPerInstance: 10001\n', /sds\.maxStreamsPerInstance/],
    ['a per-connection stream cap above its ceiling', 'sds:\n  maxStreamsPerConnection: 10001\n', /sds\.maxStreamsPerConnection/],
  ])('rejects %s, naming the key and the problem', (_name, yaml, message) => {
    const err = errorOf(() => loadConfig({ file: tmpFile(yaml), env: {} }));
    expect(err.code).toBe('ERR_CONFIG_INVALID');
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(message);
  });

  it('reports every problem at once', () => {
    const err = errorOf(() => loadConfig({ file: tmpFile('ca:\n  leafTtl: x\n  backdate: y\n'), env: {} }));
    expect(err.details.problems).toHaveLength(2);
  });

  it.each([
    ['missing file', () => loadConfig({ file: '/nonexistent/wca.yaml', env: {} }), /cannot read config file .*ENOENT/],
    ['invalid YAML', () => loadConfig({ file: tmpFile('a: [1, 2\n'), env: {} }), /not valid YAML/],
    ['a list at the top', () => loadConfig({ file: tmpFile('- 1\n- 2\n'), env: {} }), /mapping at the top level/],
  ])('rejects a %s', (_name, f, message) => {
    const err = errorOf(f);
    expect(err.code).toBe('ERR_CONFIG_FILE');
    expect(err.message).toMatch(message);
  });
});

describe('config errors a user can act on in one go', () => {
  it('reports schema errors and the cross-field errors they used to hide, in one pass', () => {
    const yaml = 'trustDomain: example.org\nca:\n  keyType: ec-p999\n  leafTtl: 5h\n  leafMaxTtl: 2h\nidentity:\n  unix: { spiffeId: "spiffe://other.org/x" }\n';
    const problems = errorOf(() => loadConfig({ file: tmpFile(yaml), env: {} })).details.problems as string[];
    expect(problems.map((p) => p.split(':')[0])).toEqual(['ca.keyType', 'ca.leafTtl', 'identity.unix.spiffeId']);
  });

  it('leaves out cross-field complaints about a value it had to drop (they would describe the default)', () => {
    const problems = errorOf(() => loadConfig({ file: tmpFile('ca:\n  leafTtl: 5h\n  leafMaxTtl: soon\n'), env: {} })).details.problems as string[];
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^ca\.leafMaxTtl: /);
  });

  it.each([
    ['ca:\n  leafTTL: 1h\n', 'ca.leafTTL', 'leafTtl'],
    ['trustdomain: a.org\n', 'trustdomain', 'trustDomain'],
    ['sds:\n  maxStream: 3\n', 'sds.maxStream', 'maxStreams'],
    ['identity:\n  policy:\n    rules:\n      - name: r\n        match: { namespce: a }\n', 'identity.policy.rules.0.match.namespce', 'namespace'],
    ['ca:\n  keyManager: { type: vault-transit, address: "https://v:8200", auth: { method: token }, keyname: k }\n', 'ca.keyManager.keyname', 'keyName'],
  ])('suggests the key an unknown one was meant to be (%#)', (yaml, key, hint) => {
    const problems = errorOf(() => loadConfig({ file: tmpFile(yaml), env: {} })).details.problems as string[];
    expect(problems).toContain(`${key}: unknown key (did you mean "${hint}"?)`);
  });

  it('suggests nothing for a key that resembles none', () => {
    const problems = errorOf(() => loadConfig({ file: tmpFile('ca:\n  colour: blue\n'), env: {} })).details.problems as string[];
    expect(problems).toEqual(['ca.colour: unknown key']);
  });

  it('keeps the YAML code frame: line, column, the line itself and a caret', () => {
    const err = errorOf(() => loadConfig({ file: tmpFile('trustDomain: a.org\nca: leafTtl: 1h\n'), env: {} }));
    expect(err.code).toBe('ERR_CONFIG_FILE');
    expect(err.message).toMatch(/line 2, column 5/);
    expect(err.message).toContain('\nca: leafTtl: 1h\n    ^');
  });

  it('reads relative paths in the config, plugin configs included, against the config file\'s folder', () => {
    const file = tmpFile('upstream:\n  plugin: disk\n  config: { certFile: ca.pem, keyFile: ./keys/ca.key, bundleFile: /etc/abs.pem }\nidentity:\n  jwt:\n    issuers:\n      - { issuer: i, audiences: [a], keys: { jwksFile: ../jwks.json } }\n');
    const dir = path.dirname(file);
    const c = loadConfig({ file, env: {} });
    expect(c.upstream.config).toEqual({ certFile: path.join(dir, 'ca.pem'), keyFile: path.join(dir, 'keys/ca.key'), bundleFile: '/etc/abs.pem' });
    expect(c.identity.jwt?.issuers[0]?.keys).toEqual({ jwksFile: path.resolve(dir, '../jwks.json') });
  });
});
