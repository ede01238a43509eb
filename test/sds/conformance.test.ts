import { X509Certificate } from 'node:crypto';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSecret, envoyNode, secretTypeUrl, XdsStream } from './envoy-client.js';
import { counterValue, startHarness, type Harness } from './harness.js';
import { isPkcs8Pem } from '../helpers/pki.js';

let h: Harness;
/** Every log line the server wrote, parsed. */
const logLines: { level: number; msg: string; resource?: string; nodeId?: string }[] = [];
beforeAll(async () => {
  const sink = new Writable({ write: (chunk, _e, cb) => (logLines.push(JSON.parse(String(chunk))), cb()) });
  h = await startHarness({ logger: pino({ level: 'info' }, sink) });
});
afterAll(async () => h?.close());

const cart = 'ns/shop/sa/cart';
const cartId = 'spiffe://cluster.local/ns/shop/sa/cart';

function leafUri(chainPem: string): string {
  const leaf = new X509Certificate(chainPem.slice(0, chainPem.indexOf('-----END CERTIFICATE-----') + 25));
  return leaf.subjectAltName ?? '';
}

async function open(names: string[], nodeId = cart, extra: Record<string, unknown> = {}) {
  const stream = XdsStream.sotw(h.client());
  stream.send({ node: envoyNode(nodeId), resource_names: names, type_url: secretTypeUrl, ...extra });
  return stream;
}

describe('StreamSecrets (state of the world), as Envoy plays it', () => {
  it('answers the first request with exactly one Secret named as requested', async () => {
    const stream = await open(['default']);
    const res = await stream.next();
    expect(res.type_url).toBe(secretTypeUrl);
    expect(res.nonce).not.toBe('');
    expect(res.version_info).not.toBe('');
    expect(res.resources).toHaveLength(1);
    const secret = decodeSecret(res.resources[0]);
    expect(secret.name).toBe('default');
    expect(leafUri(secret.certificateChain!)).toBe(`URI:${cartId}`);
    expect(isPkcs8Pem(secret.privateKey!)).toBe(true);
    stream.cancel();
  });

  it('ACK, NACK (counted, bad content not resent), stale nonce, subscription change', async () => {
    const stream = await open(['default']);
    const first = await stream.next();
    stream.send({ version_info: first.version_info, resource_names: ['default'], type_url: secretTypeUrl, response_nonce: first.nonce });
    await h.rotate();
    const pushed = await stream.next();
    expect(pushed.version_info).not.toBe(first.version_info);
    const nacksBefore = await counterValue(h.metrics.sdsNacks, { resource: 'default' });
    stream.send({
      version_info: first.version_info,
      resource_names: ['default'],
      type_url: secretTypeUrl,
      response_nonce: pushed.nonce,
      error_detail: { code: 3, message: 'Failed to load certificate chain' },
    });
    // A stale nonce asking for something else must be ignored entirely.
    stream.send({ resource_names: ['ROOTCA'], type_url: secretTypeUrl, response_nonce: first.nonce });
    // The next message we get must be the answer to this change: nothing was resent in between.
    stream.send({ version_info: first.version_info, resource_names: ['default', 'ROOTCA'], type_url: secretTypeUrl, response_nonce: pushed.nonce });
    const changed = await stream.next();
    expect(changed.resources.map((r: any) => decodeSecret(r).name).sort()).toEqual(['ROOTCA', 'default']);
    expect(await counterValue(h.metrics.sdsNacks, { resource: 'default' })).toBe(nacksBefore + 1);
    stream.cancel();
  });

  it('does not resend the version a reconnecting Envoy already holds', async () => {
    const stream = await open(['default'], 'ns/shop/sa/reconnect');
    const first = await stream.next();
    stream.cancel();
    const again = await open(['default'], 'ns/shop/sa/reconnect', { version_info: first.version_info });
    // Only the subscription change is answered: the held version was not pushed first.
    again.send({ version_info: first.version_info, resource_names: ['default', 'ROOTCA'], type_url: secretTypeUrl });
    const res = await again.next();
    expect(res.resources).toHaveLength(2);
    again.cancel();
  });

  it('serves one stream per secret; one node shares one key, another node gets its own', async () => {
    const [a1, a2, root, b] = await Promise.all([
      open(['default'], 'ns/a/sa/one'),
      open(['default'], 'ns/a/sa/one'),
      open(['ROOTCA'], 'ns/a/sa/one'),
      open(['default'], 'ns/b/sa/two'),
    ]);
    const [ra1, ra2, rroot, rb] = await Promise.all([a1.next(), a2.next(), root.next(), b.next()]);
    const [sa1, sa2, sroot, sb] = [ra1, ra2, rroot, rb].map((r) => {
      expect(r.resources).toHaveLength(1);
      return decodeSecret(r.resources[0]);
    });
    expect(sa1!.privateKey).toBe(sa2!.privateKey);
    expect(sb!.privateKey).not.toBe(sa1!.privateKey);
    expect(sroot!.name).toBe('ROOTCA');
    expect(sroot!.trustedCa).toBe(h.authority.bundle().pem);
    [a1, a2, root, b].forEach((s) => s.cancel());
  });

  it('serves the caller’s own SPIFFE ID and the trust domain ID like SPIRE does', async () => {
    const stream = await open([cartId, 'spiffe://cluster.local']);
    const res = await stream.next();
    const secrets = res.resources.map(decodeSecret);
    expect(secrets.find((s: any) => s.name === cartId)?.certificateChain).toContain('BEGIN CERTIFICATE');
    expect(secrets.find((s: any) => s.name === 'spiffe://cluster.local')?.trustedCa).toBe(h.authority.bundle().pem);
    stream.cancel();
  });

  it.each([
    { version: [1, 30] as [number, number], spiffe: true },
    { version: [1, 17] as [number, number], spiffe: false },
    { version: undefined, spiffe: false },
  ])('uses the SPIFFE validator for Envoy $version: $spiffe', async ({ version, spiffe }) => {
    const stream = XdsStream.sotw(h.client());
    stream.send({ node: envoyNode(cart, version), resource_names: ['ROOTCA'], type_url: secretTypeUrl });
    const secret = decodeSecret((await stream.next()).resources[0]);
    if (spiffe) {
      expect(secret.trustedCa).toBeUndefined();
      expect(secret.spiffeTrustDomains).toEqual([{ name: 'cluster.local', bundle: h.authority.bundle().pem }]);
    } else {
      expect(secret.trustedCa).toBe(h.authority.bundle().pem);
    }
    stream.cancel();
  });

  it('denies someone else’s SPIFFE ID with PERMISSION_DENIED naming it, other streams unaffected', async () => {
    const bystander = await open(['default'], 'ns/shop/sa/bystander');
    const first = await bystander.next();
    const thief = await open(['spiffe://cluster.local/ns/bank/sa/vault']);
    const status = await thief.status;
    expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(status.details).toContain('spiffe://cluster.local/ns/bank/sa/vault');
    bystander.send({ version_info: first.version_info, resource_names: ['default', 'ROOTCA'], type_url: secretTypeUrl, response_nonce: first.nonce });
    expect((await bystander.next()).resources).toHaveLength(2);
    bystander.cancel();
  });
});

describe('a typo never kills a stream', () => {
  const unknownWarnings = (nodeId: string) => logLines.filter((l) => l.level === 40 && l.nodeId === nodeId && l.resource !== undefined);

  it('serves the names that exist, never sends the typo, then serves it once corrected', async () => {
    const nodeId = 'ns/shop/sa/typo';
    const countedBefore = await counterValue(h.metrics.sdsUnknownResources, {});
    const stream = await open(['defualt', 'ROOTCA'], nodeId);
    const first = await stream.next();
    expect(first.resources.map((r: any) => decodeSecret(r).name)).toEqual(['ROOTCA']);
    // Envoy repeats every name in its ACK (no change, no second warning), then the typo is corrected.
    stream.send({ version_info: first.version_info, resource_names: ['defualt', 'ROOTCA'], type_url: secretTypeUrl, response_nonce: first.nonce });
    stream.send({ version_info: first.version_info, resource_names: ['default'], type_url: secretTypeUrl, response_nonce: first.nonce });
    const fixed = await stream.next();
    expect(fixed.resources).toHaveLength(1);
    const secret = decodeSecret(fixed.resources[0]);
    expect(secret.name).toBe('default');
    expect(leafUri(secret.certificateChain!)).toBe('URI:spiffe://cluster.local/ns/shop/sa/typo');
    expect(await counterValue(h.metrics.sdsUnknownResources, {})).toBe(countedBefore + 1);
    expect(unknownWarnings(nodeId).map((l) => l.resource)).toEqual(['defualt']);
    stream.cancel();
  });

  it('keeps a stream that asked only for a typo open and silent, and serves it when corrected', async () => {
    const nodeId = 'ns/shop/sa/only-typo';
    const stream = await open(['defualt'], nodeId);
    stream.send({ resource_names: ['defualt'], type_url: secretTypeUrl });
    stream.send({ resource_names: ['default'], type_url: secretTypeUrl });
    // The first thing this stream ever receives is the corrected secret: nothing was sent for the typo.
    const res = await stream.next();
    expect(res.resources.map((r: any) => decodeSecret(r).name)).toEqual(['default']);
    expect(unknownWarnings(nodeId)).toHaveLength(1);
    stream.cancel();
  });

  it('DeltaSecrets reports the typo once in removed_resources and keeps serving', async () => {
    const nodeId = 'ns/shop/sa/delta-typo';
    const stream = XdsStream.delta(h.client());
    stream.send({ node: envoyNode(nodeId), type_url: secretTypeUrl, resource_names_subscribe: ['defualt', 'ROOTCA'] });
    const seen = { removed: [] as string[], names: [] as string[] };
    while (seen.names.length === 0 || seen.removed.length === 0) {
      const res = await stream.next();
      seen.removed.push(...res.removed_resources);
      seen.names.push(...res.resources.map((r: any) => r.name));
      stream.send({ type_url: secretTypeUrl, response_nonce: res.nonce });
    }
    expect(seen).toEqual({ removed: ['defualt'], names: ['ROOTCA'] });
    stream.send({ type_url: secretTypeUrl, resource_names_subscribe: ['default'] });
    const fixed = await stream.next();
    expect(fixed.resources.map((r: any) => r.name)).toEqual(['default']);
    expect(fixed.removed_resources).toEqual([]);
    expect(unknownWarnings(nodeId).map((l) => l.resource)).toEqual(['defualt']);
    stream.cancel();
  });

  it('a mis-cased SPIFFE ID is still someone else’s identity: PERMISSION_DENIED', async () => {
    const stream = await open(['SPIFFE://cluster.local/ns/shop/sa/cart']);
    const status = await stream.status;
    expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(status.details).toContain('SPIFFE://cluster.local/ns/shop/sa/cart');
  });
});

function fetchSecrets(names: string[]): Promise<any> {
  const client = h.client() as any;
  return new Promise<any>((resolve, reject) =>
    client.FetchSecrets({ node: envoyNode(cart), resource_names: names, type_url: secretTypeUrl }, (err: Error | null, r: any) =>
      err ? reject(err) : resolve(r),
    ),
  );
}

describe('FetchSecrets', () => {
  it('returns the requested secrets in one unary call', async () => {
    const res = await fetchSecrets(['default', 'ROOTCA']);
    expect(res.resources.map((r: any) => decodeSecret(r).name)).toEqual(['ROOTCA', 'default']);
    expect(res.version_info).not.toBe('');
  });

  it('answers a name that does not exist with NOT_FOUND naming it', async () => {
    const error = await fetchSecrets(['ROOTCA', 'defualt']).catch((err: grpc.ServiceError) => err);
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(error.details).toContain('"defualt"');
    expect(error.details).toContain('"default"');
  });

  it('denies someone else’s SPIFFE ID with PERMISSION_DENIED', async () => {
    const error = await fetchSecrets(['spiffe://cluster.local/ns/bank/sa/vault']).catch((err: grpc.ServiceError) => err);
    expect(error.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(error.details).toContain('spiffe://cluster.local/ns/bank/sa/vault');
  });
});

describe('DeltaSecrets', () => {
  it('subscribe, ACK, unsubscribe, resubscribe, a repeated subscribe, and initial_resource_versions on reconnect', async () => {
    const node = envoyNode('ns/shop/sa/delta');
    const stream = XdsStream.delta(h.client());
    stream.send({ node, type_url: secretTypeUrl, resource_names_subscribe: ['default', 'ROOTCA'] });
    // Delta sends each resource as soon as it exists: the bundle may come before the certificate.
    const versions: Record<string, string> = {};
    let last: any;
    while (Object.keys(versions).length < 2) {
      last = await stream.next();
      expect(last.nonce).not.toBe('');
      for (const r of last.resources) {
        expect(decodeSecret(r.resource).name).toBe(r.name);
        versions[r.name] = r.version;
      }
      stream.send({ type_url: secretTypeUrl, response_nonce: last.nonce });
    }
    expect(Object.keys(versions).sort()).toEqual(['ROOTCA', 'default']);
    stream.send({ type_url: secretTypeUrl, resource_names_unsubscribe: ['ROOTCA'] });
    stream.send({ type_url: secretTypeUrl, resource_names_subscribe: ['ROOTCA'] });
    const again = await stream.next();
    expect(again.resources.map((r: any) => r.name)).toEqual(['ROOTCA']);
    // Subscribing to a name the client already holds (no unsubscribe in between) is still answered.
    stream.send({ type_url: secretTypeUrl, response_nonce: again.nonce, resource_names_subscribe: ['default'] });
    const resent = await stream.next();
    expect(resent.resources.map((r: any) => [r.name, r.version])).toEqual([['default', versions.default]]);
    expect(resent.nonce).not.toBe(again.nonce);
    stream.cancel();

    const reconnect = XdsStream.delta(h.client());
    reconnect.send({
      node,
      type_url: secretTypeUrl,
      resource_names_subscribe: ['default', 'ROOTCA'],
      initial_resource_versions: { default: versions.default, ROOTCA: 'some-old-version' },
    });
    const res = await reconnect.next();
    expect(res.resources.map((r: any) => r.name)).toEqual(['ROOTCA']);
    reconnect.cancel();
  });
});
