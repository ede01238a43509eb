/**
 * Fuzzing SDS over the wire: raw request bytes (hostile protobuf, mutated
 * encodings, noise) and hostile metadata, sent by a real grpc-js client to a real
 * server (dev CA, insecure-dev and join-token authenticators), ten calls at a
 * time. Every call ends with OK (we half-closed), CANCELLED (we gave up waiting)
 * or a status a documented WcaError carries, never INTERNAL or UNKNOWN and
 * never a hang; afterwards the server holds no stream and still serves.
 */
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { errorCodes, GrpcStatus } from '../../src/errors.js';
import { InsecureDevAuthenticator } from '../../src/identity/insecure-dev.js';
import { JoinTokenAuthenticator } from '../../src/identity/join-token/authenticator.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { sdsServiceName, secretTypeUrl } from '../../src/sds/protos.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { startHarness, type Harness } from '../sds/harness.js';
import { decodeSecret, XdsStream } from '../sds/envoy-client.js';
import { fuzzOptions } from './fuzz.js';
import { requestBytes, trustDomain } from './sds-requests.js';

const documented = new Set([GrpcStatus.OK, GrpcStatus.CANCELLED, ...Object.values(errorCodes).map((c) => c.grpc as number)].filter((s) => s !== GrpcStatus.INTERNAL));
const callDeadlineMs = 15_000;
const passthrough = (b: Buffer) => b;

let h: Harness;
let client: grpc.Client;
const store = new JoinTokenStore(trustDomain, systemClock);

beforeAll(async () => {
  h = await startHarness({
    config: { fetchTimeout: '2s' },
    authenticators: (listen) => [new JoinTokenAuthenticator(store), new InsecureDevAuthenticator({ profile: 'dev', trustDomain, listen, logger: silentLogger() })],
  });
  client = h.client();
});
afterAll(() => h.close());

const metadata = fc.oneof(
  { arbitrary: fc.constant(null), weight: 4 },
  fc.constantFrom('Bearer wcajt_AAAA', 'Bearer ', 'Bearer eyJhbGciOiJub25lIn0.e30.', 'Basic Zm9vOmJhcg=='),
  fc.string({ maxLength: 100 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
);

const streamCall = fc.record({
  method: fc.constantFrom('StreamSecrets' as const, 'DeltaSecrets' as const),
  messages: fc.integer({ min: 1, max: 3 }),
  authorization: metadata,
  ending: fc.constantFrom('half-close' as const, 'wait' as const),
}).chain((c) => fc.array(requestBytes(c.method === 'StreamSecrets' ? 'sotw' : 'delta'), { minLength: c.messages, maxLength: c.messages }).map((bytes) => ({ ...c, bytes })));

const fetchCall = fc.record({ method: fc.constant('FetchSecrets' as const), authorization: metadata, bytes: requestBytes('sotw') });

type StreamCall = typeof streamCall extends fc.Arbitrary<infer T> ? T : never;
type FetchCall = typeof fetchCall extends fc.Arbitrary<infer T> ? T : never;

function metadataOf(authorization: string | null): grpc.Metadata {
  const m = new grpc.Metadata();
  if (authorization !== null) m.set('authorization', authorization);
  return m;
}

/** One stream: write the bytes, then half-close, or wait briefly for an answer and cancel. Resolves with the final status. */
function runStream(c: StreamCall): Promise<number> {
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest(`/${sdsServiceName}/${c.method}`, passthrough, passthrough, metadataOf(c.authorization), {
      deadline: Date.now() + callDeadlineMs,
    });
    let timer: NodeJS.Timeout | undefined;
    call.on('data', () => {
      if (c.ending === 'wait') call.cancel();
    });
    call.on('error', (err: grpc.ServiceError) => {
      clearTimeout(timer);
      resolve(err.code);
    });
    call.on('status', (s: grpc.StatusObject) => {
      clearTimeout(timer);
      if (s.code === grpc.status.OK) resolve(s.code);
    });
    for (const bytes of c.bytes) call.write(bytes);
    if (c.ending === 'half-close') call.end();
    else timer = setTimeout(() => call.cancel(), 100);
  });
}

function runFetch(c: FetchCall): Promise<number> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(`/${sdsServiceName}/FetchSecrets`, passthrough, passthrough, c.bytes, metadataOf(c.authorization), { deadline: Date.now() + callDeadlineMs }, (err) =>
      resolve(err ? err.code : grpc.status.OK),
    );
  });
}

describe('fuzz: SDS over a real gRPC connection', () => {
  it('raw bytes and hostile metadata on StreamSecrets, DeltaSecrets and FetchSecrets get documented statuses only', async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(streamCall, fetchCall), { minLength: 10, maxLength: 10 }), async (calls) => {
        const statuses = await Promise.all(calls.map((c) => (c.method === 'FetchSecrets' ? runFetch(c) : runStream(c as StreamCall))));
        for (const status of statuses) {
          seen.set(status, (seen.get(status) ?? 0) + 1);
          // DEADLINE_EXCEEDED here would mean a call hung for 15 s.
          expect(status).not.toBe(grpc.status.DEADLINE_EXCEEDED);
          expect(documented).toContain(status);
        }
      }),
      fuzzOptions(30),
    );
    // The fuzz reached the server's refusals, not only the transport.
    for (const status of [grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED]) {
      expect(seen.get(status), `status ${status} never seen`).toBeGreaterThan(0);
    }
  });

  it('afterwards the server holds no stream and still serves a well-formed request', async () => {
    for (let i = 0; i < 100 && h.server.streams() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(h.server.streams()).toBe(0);
    const stream = XdsStream.sotw(client);
    stream.send({ node: { id: 'ns/after/sa/fuzz', cluster: 'c' }, resource_names: ['default'], type_url: secretTypeUrl });
    const secret = decodeSecret((await stream.next()).resources[0]);
    expect(secret.certificateChain).toMatch(/BEGIN CERTIFICATE/);
    stream.cancel();
  });
});
