/**
 * StreamSession without sockets: requests are fed in, responses and the status a
 * stream ends with are read back from a recording StreamIo. Real authenticator
 * chain, policy, decision log and SotW protocol; only the resources are set by hand.
 */
import { describe, expect, it } from 'vitest';
import { status as grpcStatus } from '@grpc/grpc-js';
import { AuthenticatorChain } from '../../src/identity/chain.js';
import { rulePolicyWithBuiltins } from '../../src/identity/policy/builtin.js';
import { UnixAuthenticator } from '../../src/identity/unix.js';
import type { CallerContext } from '../../src/identity/types.js';
import { DecisionLog } from '../../src/sds/decision-log.js';
import { MalformedRequest } from '../../src/sds/messages.js';
import { StreamSession, type SessionDeps, type StreamIo } from '../../src/sds/session.js';
import { SotwProtocol } from '../../src/sds/sotw.js';
import type { SotwRequest, SotwResponse } from '../../src/sds/types.js';
import { WcaError } from '../../src/errors.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics, type Metrics } from '../../src/telemetry/metrics.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { FakeSource } from './fake-source.js';

const spiffeId = 'spiffe://example.org/ns/default/sa/web';
const firstRequestTimeoutMs = 5_000;

const request = (over: Partial<SotwRequest> = {}): SotwRequest => ({
  kind: 'sotw',
  versionInfo: '',
  resourceNames: ['default'],
  typeUrl: '',
  responseNonce: '',
  node: { id: 'envoy-1', cluster: 'web' },
  ...over,
});

/** A StreamIo that records what the session did to the stream. */
class RecordingIo implements StreamIo<SotwResponse> {
  readonly sent: SotwResponse[] = [];
  ended: { status: number; message: string } | undefined;
  authentications = 0;

  constructor(readonly context: Omit<CallerContext, 'node'>) {}

  send(response: SotwResponse): void {
    this.sent.push(response);
  }

  fail(status: number, message: string): void {
    this.ended = { status, message };
  }

  authenticated(): void {
    this.authentications++;
  }
}

function setup(transport: CallerContext['transport'] = 'unix') {
  const clock = new FakeClock();
  const source = new FakeSource();
  const metrics: Metrics = createMetrics();
  const deps: SessionDeps = {
    chain: new AuthenticatorChain([new UnixAuthenticator({ spiffeId })], metrics),
    policy: rulePolicyWithBuiltins('example.org', [], 3600),
    decisions: new DecisionLog(clock),
    logger: silentLogger(),
    sources: () => source,
    metrics,
    resourceLabel: (name) => name,
    clock,
    firstRequestTimeoutMs,
  };
  const io = new RecordingIo({ transport, peerAddress: '/run/wca/sds.sock', metadata: new Map() });
  const session = new StreamSession(deps, io, (ports) => new SotwProtocol(ports, ['default', 'ROOTCA']));
  return { clock, source, metrics, io, session };
}

/** Lets the first request's authentication (a promise) settle. */
const authenticated = () => new Promise((resolve) => setImmediate(resolve));

const counted = async (metrics: Metrics, name: 'sdsNacks' | 'sdsRejected') =>
  (await metrics[name].get()).values.reduce((sum, v) => sum + v.value, 0);

describe('StreamSession', () => {
  it('authenticates on the first request, counts the stream once, then answers it', async () => {
    const { source, io, session } = setup();
    source.set('default', 'v1');
    session.receive(request());
    expect(io.sent).toHaveLength(0);
    await authenticated();
    expect(io.authentications).toBe(1);
    expect(io.sent.map((r) => r.resources.map((x) => x.name))).toEqual([['default']]);
    expect(io.ended).toBeUndefined();
  });

  it('queues requests that arrive while the first authenticates and handles them in order', async () => {
    const { source, io, session } = setup();
    source.set('default', 'v1');
    source.set('ROOTCA', 'b1');
    session.receive(request());
    session.receive(request({ resourceNames: ['default', 'ROOTCA'] }));
    await authenticated();
    expect(io.sent.map((r) => r.resources.map((x) => x.name))).toEqual([['default'], ['ROOTCA', 'default']]);
    expect(io.authentications).toBe(1);
  });

  it('ends a stream that queues more than 16 requests before the first is answered with INVALID_ARGUMENT', async () => {
    const { io, session } = setup();
    for (let i = 0; i < 17; i++) session.receive(request());
    expect(io.ended?.status).toBe(grpcStatus.INVALID_ARGUMENT);
    await authenticated();
    expect(io.sent).toHaveLength(0);
    expect(io.authentications).toBe(0);
  });

  it('ACK: nothing is resent; the next version goes out with a fresh nonce', async () => {
    const { source, io, session } = setup();
    source.set('default', 'v1');
    session.receive(request());
    await authenticated();
    const first = io.sent[0]!;
    session.receive(request({ versionInfo: first.versionInfo, responseNonce: first.nonce }));
    expect(io.sent).toHaveLength(1);
    source.set('default', 'v2');
    expect(io.sent).toHaveLength(2);
    expect(io.sent[1]!.nonce).not.toBe(first.nonce);
  });

  it('NACK: counted, the stream stays open and the rejected content is not resent', async () => {
    const { source, io, session, metrics } = setup();
    source.set('default', 'v1');
    session.receive(request());
    await authenticated();
    const first = io.sent[0]!;
    session.receive(request({ versionInfo: '', responseNonce: first.nonce, errorDetail: { code: 3, message: 'bad key' } }));
    expect(await counted(metrics, 'sdsNacks')).toBe(1);
    expect(io.sent).toHaveLength(1);
    expect(io.ended).toBeUndefined();
  });

  it('ends a stream without a first request after firstRequestTimeout with DEADLINE_EXCEEDED', () => {
    const { clock, io } = setup();
    clock.advance(firstRequestTimeoutMs - 1);
    expect(io.ended).toBeUndefined();
    clock.advance(1);
    expect(io.ended?.status).toBe(grpcStatus.DEADLINE_EXCEEDED);
  });

  it('a request in time cancels the first-request deadline', async () => {
    const { clock, source, io, session } = setup();
    source.set('default', 'v1');
    session.receive(request());
    await authenticated();
    clock.advance(firstRequestTimeoutMs * 2);
    expect(io.ended).toBeUndefined();
  });

  it('an unauthenticated caller gets UNAUTHENTICATED and nothing else', async () => {
    const { source, io, session, metrics } = setup('tcp');
    source.set('default', 'v1');
    session.receive(request());
    await authenticated();
    expect(io.ended?.status).toBe(grpcStatus.UNAUTHENTICATED);
    expect(io.sent).toHaveLength(0);
    expect(io.authentications).toBe(0);
    expect(await counted(metrics, 'sdsRejected')).toBe(1);
  });

  it('a malformed request ends the stream with its own status', async () => {
    const { source, io, session } = setup();
    source.set('default', 'v1');
    session.receive(request());
    await authenticated();
    session.receive(new MalformedRequest(new WcaError('ERR_SDS_BAD_REQUEST', 'type_url is not a secret')));
    expect(io.ended?.status).toBe(grpcStatus.INVALID_ARGUMENT);
  });

  it('after close() drops its watches and sends nothing, whatever arrives', async () => {
    const { source, io, session } = setup();
    source.set('default', 'v1');
    session.receive(request());
    await authenticated();
    session.close();
    expect(source.watching('default')).toBe(0);
    source.set('default', 'v2');
    session.receive(request({ responseNonce: io.sent[0]!.nonce }));
    expect(io.sent).toHaveLength(1);
    expect(io.ended).toBeUndefined();
  });

  it('a stream closed while its caller authenticates never starts', async () => {
    const { source, io, session } = setup();
    source.set('default', 'v1');
    session.receive(request());
    session.close();
    await authenticated();
    expect(io.sent).toHaveLength(0);
    expect(io.authentications).toBe(0);
    expect(source.watching('default')).toBe(0);
  });
});
