import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecisionLog } from '../../src/sds/decision-log.js';
import type { Log } from '../../src/sds/stream-log.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { envoyNode, secretTypeUrl, XdsStream } from './envoy-client.js';
import { startHarness, type Harness } from './harness.js';

function recordingLog(): Log & { lines: { fields: Record<string, unknown>; message: string }[] } {
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  const info = (fields: object, message: string) => void lines.push({ fields: fields as Record<string, unknown>, message });
  return { lines, info, debug: () => {}, warn: info, error: info };
}

describe('DecisionLog: one line per grant and denial, rate-limited', () => {
  it('writes up to the budget each second, holds back the rest and counts them into the next line', () => {
    const clock = new FakeClock();
    const decisions = new DecisionLog(clock, 3);
    const log = recordingLog();
    for (let i = 0; i < 10; i++) decisions.denied(log, { code: 'ERR_UNAUTHENTICATED', i });
    expect(log.lines.map((l) => l.fields.i)).toEqual([0, 1, 2]);
    clock.advance(1000);
    decisions.denied(log, { code: 'ERR_UNAUTHENTICATED', i: 10 });
    expect(log.lines[3]).toEqual({ fields: { code: 'ERR_UNAUTHENTICATED', i: 10, suppressed: 7 }, message: 'sds: denied' });
    decisions.denied(log, { i: 11 });
    expect(log.lines[4]!.fields).toEqual({ i: 11 });
  });

  it('budgets grants apart from denials, so a flood of denials cannot hide grants', () => {
    const decisions = new DecisionLog(new FakeClock(), 2);
    const log = recordingLog();
    for (let i = 0; i < 100; i++) decisions.denied(log, { i });
    decisions.granted(log, { spiffeId: 'spiffe://cluster.local/ns/a/sa/b' });
    expect(log.lines.filter((l) => l.message === 'sds: granted')).toHaveLength(1);
    expect(log.lines).toHaveLength(3);
  });
});

describe('the SDS server logs each grant and denial at info', () => {
  let h: Harness;
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    const sink = new Writable({ write: (chunk, _e, cb) => (lines.push(JSON.parse(String(chunk)) as Record<string, unknown>), cb()) });
    h = await startHarness({ logger: pino({ level: 'info' }, sink) });
  });
  afterAll(() => h.close());

  it('a granted stream: one line naming the SPIFFE ID and the rule; a denied one: one line with the error code', async () => {
    const granted = XdsStream.sotw(h.client());
    granted.send({ node: envoyNode('ns/shop/sa/cart'), resource_names: ['default'], type_url: secretTypeUrl });
    await granted.next();
    granted.cancel();
    const denied = XdsStream.sotw(h.client());
    denied.send({ node: envoyNode('spiffe://evil.example/x'), resource_names: ['default'], type_url: secretTypeUrl });
    expect((await denied.status).code).toBe(grpc.status.PERMISSION_DENIED);

    const grants = lines.filter((l) => l.msg === 'sds: granted');
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ level: 30, spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart', authenticator: 'insecure-dev' });
    const denials = lines.filter((l) => l.msg === 'sds: denied');
    expect(denials).toHaveLength(1);
    expect(denials[0]).toMatchObject({ level: 30, code: 'ERR_TRUST_DOMAIN_MISMATCH' });
  });
});
