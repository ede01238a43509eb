/**
 * Fuzzing the SDS protocol layer without sockets: the wire decoders
 * (messages.ts), the SotW and Delta state machines (sotw.ts, delta.ts), a whole
 * stream session (session.ts: authentication, queueing, failure) and
 * FetchSecrets (fetch.ts), fed with arbitrary decoded requests interleaved with
 * secret changes. Failures must be documented WcaErrors; a stream ends at most
 * once, with a documented non-INTERNAL status, and sends nothing afterwards.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorCodes, GrpcStatus, WcaError, type ErrorCode } from '../../src/errors.js';
import { AuthenticatorChain } from '../../src/identity/chain.js';
import { InsecureDevAuthenticator } from '../../src/identity/insecure-dev.js';
import { rulePolicyWithBuiltins } from '../../src/identity/policy/builtin.js';
import { DeltaProtocol } from '../../src/sds/delta.js';
import { fetchSecrets } from '../../src/sds/fetch.js';
import { decodeDeltaRequest, decodeSotwRequest, MalformedRequest } from '../../src/sds/messages.js';
import { StreamSession, type ProtocolFactory, type SessionDeps } from '../../src/sds/session.js';
import { SotwProtocol } from '../../src/sds/sotw.js';
import type { DeltaRequest, DeltaResponse, SotwRequest, SotwResponse } from '../../src/sds/types.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { FakeSource, recorder } from '../sds/fake-source.js';
import { expectDocumented, fuzzOptions, settles } from './fuzz.js';
import { encodeDelta, encodeSotw, ownId, rawDeltaRequest, rawSotwRequest, requestBytes, resourceName, trustDomain } from './sds-requests.js';
import { DecisionLog } from '../../src/sds/decision-log.js';

const served = ['default', 'ROOTCA', ownId];
const PROTOCOL_ERRORS: readonly ErrorCode[] = ['ERR_PERMISSION_DENIED'];
/** gRPC statuses a WcaError can carry, bar INTERNAL (what an undocumented crash becomes). */
const documentedStatuses = new Set(Object.values(errorCodes).map((c) => c.grpc as number).filter((s) => s !== GrpcStatus.INTERNAL));

const decodedSotw = fc.oneof(rawSotwRequest.map(encodeSotw), requestBytes('sotw')).map(decodeSotwRequest);
const decodedDelta = fc.oneof(rawDeltaRequest.map(encodeDelta), requestBytes('delta')).map(decodeDeltaRequest);
const wellFormed = <T>(r: T | MalformedRequest): r is T => !(r instanceof MalformedRequest);

/** A secret changing on the server side between requests. */
const change = fc.record({ name: fc.constantFrom(...served), version: fc.constantFrom('v1', 'v2', 'v3') });
const steps = <T>(request: fc.Arbitrary<T>) =>
  fc.array(fc.oneof({ arbitrary: request.map((r) => ({ request: r })), weight: 3 }, { arbitrary: change.map((c) => ({ change: c })), weight: 1 }), { maxLength: 12 });

function checkNonces(sent: readonly { nonce: string }[]): void {
  const nonces = sent.map((r) => Number(r.nonce));
  nonces.forEach((n, i) => expect(n).toBe(i + 1));
}

describe('fuzz: SDS wire decoders', () => {
  it.each([
    ['DiscoveryRequest', 'sotw', decodeSotwRequest],
    ['DeltaDiscoveryRequest', 'delta', decodeDeltaRequest],
  ] as const)('%s: any bytes decode to a request or a MalformedRequest, never a throw', async (_name, kind, decode) => {
    await fc.assert(
      fc.property(requestBytes(kind), (bytes) => {
        const decoded = decode(bytes);
        if (decoded instanceof MalformedRequest) expectDocumented(decoded.error, ['ERR_SDS_BAD_REQUEST']);
      }),
      fuzzOptions(1000),
    );
  });
});

/**
 * Plays a script of requests and secret changes against one protocol instance,
 * then checks what every state machine owes: nonces 1, 2, 3…, only served names
 * sent, no response without content, no watch left after close.
 */
function play<Req, Res extends { nonce: string; resources: readonly { name: string }[] }>(
  script: readonly ({ request: unknown } | { change: { name: string; version: string } })[],
  make: (deps: ReturnType<ReturnType<typeof recorder<Res>>['deps']>) => { handle(r: Req): void; close(): void },
  contentOf: (response: Res) => number,
): void {
  const source = new FakeSource(served);
  const rec = recorder<Res>();
  const protocol = make(rec.deps(source));
  for (const step of script) {
    if ('change' in step) {
      source.set(step.change.name, step.change.version);
      continue;
    }
    try {
      protocol.handle(step.request as Req);
    } catch (err) {
      expectDocumented(err, PROTOCOL_ERRORS);
    }
  }
  protocol.close();
  checkNonces(rec.sent);
  for (const response of rec.sent) {
    expect(contentOf(response)).toBeGreaterThan(0);
    for (const r of response.resources) expect(served).toContain(r.name);
  }
  for (const name of served) expect(source.watching(name)).toBe(0);
}

describe('fuzz: protocol state machines', () => {
  it('SotwProtocol', () => {
    fc.assert(
      fc.property(steps(decodedSotw.filter(wellFormed)), (script) =>
        play<SotwRequest, SotwResponse>(script, (deps) => new SotwProtocol(deps, ['default', 'ROOTCA']), (r) => r.resources.length),
      ),
      fuzzOptions(500),
    );
  });

  it('DeltaProtocol', () => {
    fc.assert(
      fc.property(steps(decodedDelta.filter(wellFormed)), (script) =>
        play<DeltaRequest, DeltaResponse>(script, (deps) => new DeltaProtocol(deps), (r) => r.resources.length + r.removed.length),
      ),
      fuzzOptions(500),
    );
  });
});

function sessionDeps(): SessionDeps {
  const logger = silentLogger();
  const metrics = createMetrics();
  const clock = new FakeClock();
  const listen = { kind: 'tcp', host: '127.0.0.1', port: 1 } as const;
  const source = new FakeSource(served);
  for (const name of ['default', 'ROOTCA']) source.set(name, 'v1');
  return {
    chain: new AuthenticatorChain([new InsecureDevAuthenticator({ profile: 'dev', trustDomain, listen, logger })], metrics),
    policy: rulePolicyWithBuiltins(trustDomain, [], 3600),
    logger,
    metrics,
    sources: () => source,
    resourceLabel: (name) => (served.includes(name) ? name : 'other'),
    // A manual clock: the first-request deadline never fires on its own here.
    clock,
    decisions: new DecisionLog(clock),
    firstRequestTimeoutMs: 10_000,
  };
}

/** Feeds arbitrary messages to one real StreamSession, sometimes letting authentication finish in between. */
async function fuzzSession(decoded: fc.Arbitrary<unknown>, makeProtocol: ProtocolFactory<never, unknown>): Promise<void> {
  const deps = sessionDeps();
  await fc.assert(
    fc.asyncProperty(fc.array(decoded, { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 8 }), fc.boolean(), async (messages, pauseAt, serverFull) => {
      const failures: number[] = [];
      let sentAfterFailure = 0;
      const io = {
        context: { transport: 'tcp' as const, peerAddress: '127.0.0.1:5000', metadata: new Map<string, string[]>() },
        send: () => void (failures.length > 0 && sentAfterFailure++),
        fail: (status: number) => void failures.push(status),
        authenticated: () => {
          if (serverFull) throw new WcaError('ERR_SDS_LIMIT', 'the server-wide stream limit is reached');
        },
      };
      const session = new StreamSession(deps, io, makeProtocol);
      for (const [i, message] of messages.entries()) {
        if (i === pauseAt) await new Promise((resolve) => setImmediate(resolve));
        session.receive(message as never);
      }
      await new Promise((resolve) => setImmediate(resolve));
      session.close();
      expect(failures.length).toBeLessThanOrEqual(1);
      for (const status of failures) expect(documentedStatuses).toContain(status);
      expect(sentAfterFailure).toBe(0);
    }),
    fuzzOptions(400),
  );
}

describe('fuzz: a whole stream session ends at most once, with a documented status, and is silent afterwards', () => {
  it('StreamSecrets', () => fuzzSession(decodedSotw, (ports) => new SotwProtocol(ports as never, ['default', 'ROOTCA']) as never));
  it('DeltaSecrets', () => fuzzSession(decodedDelta, (ports) => new DeltaProtocol(ports as never) as never));
});

describe('fuzz: FetchSecrets', () => {
  it('any decoded request is answered or refused with a documented error, and leaves no watch or timer behind', async () => {
    const deps = sessionDeps();
    const source = deps.sources({ grant: { spiffeId: ownId, dnsNames: [], maxTtlSeconds: 1, rule: '', reason: '' }, instance: 'fuzz', lineageId: new Uint8Array(16) }) as FakeSource;
    await fc.assert(
      fc.asyncProperty(decodedSotw.filter(wellFormed), fc.array(resourceName, { maxLength: 3 }), async (request, extra) => {
        const clock = new FakeClock();
        const sotw = request as SotwRequest;
        const pending = settles(
          () =>
            fetchSecrets(
              { ...deps, logger: deps.logger, clock, wildcardNames: ['default', 'ROOTCA'], timeoutMs: 1000 },
              { transport: 'tcp', peerAddress: '127.0.0.1:5000', metadata: new Map() },
              { ...sotw, resourceNames: [...sotw.resourceNames, ...extra.filter((n) => n.length > 0 && n.length < 500)] },
            ),
          ['ERR_UNAUTHENTICATED', 'ERR_PERMISSION_DENIED', 'ERR_SPIFFE_ID_INVALID', 'ERR_TRUST_DOMAIN_MISMATCH', 'ERR_SPIFFE_ID_RESERVED', 'ERR_SDS_UNKNOWN_RESOURCE', 'ERR_CA_NOT_READY'],
        );
        // The caller's own ID has no value in this source: only the timeout ends that fetch.
        await new Promise((resolve) => setImmediate(resolve));
        clock.advance(1001);
        const response = await pending;
        if (response) expect(response.resources.map((r) => r.name).sort()).toEqual([...new Set(response.resources.map((r) => r.name))].sort());
        expect(clock.pendingTimers).toBe(0);
        for (const name of served) expect(source.watching(name)).toBe(0);
      }),
      fuzzOptions(400),
    );
  });
});
