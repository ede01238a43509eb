/**
 * `upstream check` authenticates against AWS Private CA for real, per AWS's
 * documented API: a SigV4-signed DescribeCertificateAuthority (the fake server
 * recomputes every signature from the test credentials), nothing issued.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runUpstreamCheck, type CheckStep } from '../../../src/cli/commands/upstream.js';
import { exitCodeOf, ExitCode } from '../../../src/errors.js';
import { FakePcaServer, testCredentials } from '../../fakes/acm-pca-server.js';
import { createTestRootCa, type TestRootCa } from '../../fakes/upstream-ca.js';
import { rejectionOf } from '../../fakes/mint.js';
import { useCredentials } from './harness.js';

let dir: string;
let ca: TestRootCa;
let server: FakePcaServer | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-pca-check-'));
  ca = await createTestRootCa({ subCaLevels: 1, name: 'Private CA' });
});
afterEach(async () => {
  await server?.stop();
  server = undefined;
  useCredentials();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function check(endpoint: string, caArn: string): Promise<{ steps: CheckStep[]; error?: Error & { code?: string } }> {
  const file = path.join(dir, 'config.yaml');
  await writeFile(
    file,
    `profile: dev\ntrustDomain: check.example\nlog:\n  level: silent\nupstream:\n  plugin: aws-acm-pca\n  timeout: 10s\n  config:\n` +
      `    certificateAuthorityArn: ${caArn}\n    region: eu-west-1\n    endpoint: ${endpoint}\n    requestTimeoutMs: 5000\n`,
  );
  let text = '';
  const error = await rejectionOf(runUpstreamCheck({ config: file, env: {}, format: 'json', out: { write: (t: string) => (text += t) } })).catch(() => undefined);
  return { steps: (JSON.parse(text) as { steps: CheckStep[] }).steps, error };
}

const auth = (steps: CheckStep[]) => steps.find((s) => s.step === 'auth');

describe("upstream check against AWS Private CA, per AWS's documented API (DescribeCertificateAuthority, SigV4)", () => {
  it('valid credentials: one signed DescribeCertificateAuthority, accepted, and nothing issued', async () => {
    useCredentials();
    server = await new FakePcaServer({ ca }).start();
    const { steps, error } = await check(server.url, server.caArn);
    expect(error).toBeUndefined();
    expect(auth(steps)).toMatchObject({ status: 'ok', detail: `DescribeCertificateAuthority accepted by ${server.url}: ${server.caArn} is ACTIVE, signs with SHA256WITHECDSA` });
    expect(server.count('DescribeCertificateAuthority')).toBe(1);
    expect(server.count('IssueCertificate')).toBe(0);
  });

  it('a wrong secret key: the auth step fails with ERR_UPSTREAM_AUTH (AWS rejects the signature), and the secret is nowhere', async () => {
    useCredentials({ accessKeyId: testCredentials.accessKeyId, secretAccessKey: 'wrong/secret/key/EXAMPLE' });
    server = await new FakePcaServer({ ca }).start();
    const { steps, error } = await check(server.url, server.caArn);
    expect(error?.code).toBe('ERR_UPSTREAM_AUTH');
    expect(exitCodeOf(error)).toBe(ExitCode.UPSTREAM);
    expect(auth(steps)).toMatchObject({ status: 'fail' });
    expect(auth(steps)!.detail).toContain('DescribeCertificateAuthority failed: InvalidSignatureException');
    expect(JSON.stringify(steps)).not.toContain('wrong/secret');
  });

  it('an unknown access key: ERR_UPSTREAM_AUTH (UnrecognizedClientException)', async () => {
    useCredentials({ accessKeyId: 'AKIAWCAOTHERKEY00000', secretAccessKey: testCredentials.secretAccessKey });
    server = await new FakePcaServer({ ca }).start();
    const { error } = await check(server.url, server.caArn);
    expect(error?.code).toBe('ERR_UPSTREAM_AUTH');
    expect(error?.message).toContain('UnrecognizedClientException');
  });

  it('a CA that is DISABLED cannot issue: the check fails, naming the state', async () => {
    useCredentials();
    server = await new FakePcaServer({ ca }).start();
    server.caStatus = 'DISABLED';
    const { error } = await check(server.url, server.caArn);
    expect(error?.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect(error?.message).toContain('is DISABLED, not ACTIVE');
  });

  it('nothing listening: the failure names the endpoint it tried', async () => {
    useCredentials();
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const endpoint = `http://127.0.0.1:${port}`;
    const { steps, error } = await check(endpoint, 'arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/00000000-0000-0000-0000-000000000000');
    expect(error?.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect(auth(steps)!.detail).toBe(`aws-acm-pca: DescribeCertificateAuthority failed: cannot reach ${endpoint}: ECONNREFUSED`);
  });
});
