/**
 * Child process of bench/overload.ts: plays new Envoys, each asking for its first
 * certificate on a new SDS stream (a new node, so a new key and leaf), over
 * node:http2 directly. A request counts as admitted when a checked certificate
 * arrives (the stream is then cancelled), as shed when the stream ends with
 * RESOURCE_EXHAUSTED, as an error otherwise.
 *
 * argv: address connections. IPC: {capacity, seconds, concurrency} runs a closed
 * loop and answers with its rate and latencies; {offer, rate, seconds} runs an
 * open loop at that rate and answers with the outcome; {exit} ends the process.
 */
import http2 from 'node:http2';
import { check, frame, parseMessages, secretTypeUrl, streamPath } from './sds-wire.js';

const [address, connectionsArg] = process.argv.slice(2);
const connections = Number(connectionsArg ?? 100);
const RESOURCE_EXHAUSTED = '8';

const sessions = Array.from({ length: connections }, () => {
  const session = http2.connect(`http://${address}`);
  session.on('error', () => undefined); // counted per stream
  return session;
});

export interface Outcome {
  admitted: number;
  shed: number;
  errors: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  elapsedMs: number;
}

class Tally {
  readonly latencies: number[] = [];
  shed = 0;
  readonly errors: Record<string, number> = {};
  inFlight = 0;

  error(what: string): void {
    this.errors[what] = (this.errors[what] ?? 0) + 1;
  }

  outcome(elapsedMs: number): Outcome {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const at = (q: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 10) / 10;
    return { admitted: sorted.length, shed: this.shed, errors: this.errors, p50Ms: at(0.5), p99Ms: at(0.99), elapsedMs: Math.round(elapsedMs) };
  }
}

let seq = 0;

/** One new node asking for its certificate; calls done once it has an outcome. */
function request(tally: Tally, done: () => void): void {
  const n = seq++;
  const spiffeId = Buffer.from(`spiffe://cluster.local/ns/bench/sa/ov${n}`);
  const started = performance.now();
  const stream = sessions[n % connections]!.request(
    { ':method': 'POST', ':path': streamPath, 'content-type': 'application/grpc', te: 'trailers' },
    { endStream: false },
  );
  tally.inFlight++;
  let finished = false;
  const finish = (record: () => void) => {
    if (finished) return;
    finished = true;
    tally.inFlight--;
    record();
    if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    done();
  };
  parseMessages(stream, (response) =>
    finish(() => {
      try {
        check(response, 'default', spiffeId);
        tally.latencies.push(performance.now() - started);
      } catch (err) {
        tally.error(`bad response: ${(err as Error).message}`);
      }
    }),
  );
  const ended = (headers: http2.IncomingHttpHeaders) => {
    const status = headers['grpc-status'];
    if (status === undefined) return;
    finish(() => (status === RESOURCE_EXHAUSTED ? tally.shed++ : tally.error(`grpc-status ${String(status)}: ${String(headers['grpc-message'] ?? '')}`)));
  };
  stream.on('response', ended);
  stream.on('trailers', ended);
  stream.on('error', (err) => finish(() => tally.error(`stream error: ${err.message}`)));
  stream.on('close', () => finish(() => tally.error('closed without an answer')));
  stream.write(frame({ node: { id: `ns/bench/sa/ov${n}`, user_agent_name: 'envoy' }, resource_names: ['default'], type_url: secretTypeUrl }));
}

/** `concurrency` requests at all times for `seconds`: what the server sustains, and its latency doing so. */
async function closedLoop(seconds: number, concurrency: number): Promise<Outcome> {
  const tally = new Tally();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await new Promise<void>((resolve) => {
    const next = () => {
      if (performance.now() < deadline) request(tally, next);
      else if (tally.inFlight === 0) resolve();
    };
    for (let i = 0; i < concurrency; i++) next();
  });
  return tally.outcome(performance.now() - started);
}

/** `rate` new requests per second for `seconds`, whatever the answers; then waits (up to 30 s) for the stragglers. */
async function openLoop(rate: number, seconds: number): Promise<Outcome & { offered: number; unanswered: number }> {
  const tally = new Tally();
  const started = performance.now();
  let offered = 0;
  const total = Math.round(rate * seconds);
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.round(((performance.now() - started) / 1000) * rate));
      while (offered < due) {
        offered++;
        request(tally, () => undefined);
      }
      if (offered >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  const giveUp = performance.now() + 30_000;
  while (tally.inFlight > 0 && performance.now() < giveUp) await new Promise((r) => setTimeout(r, 20));
  return { ...tally.outcome(performance.now() - started), offered, unanswered: tally.inFlight };
}

process.on('message', (message: { type: string; seconds: number; concurrency: number; rate: number }) => {
  const reply = (result: object) => process.send!({ type: message.type, ...result });
  if (message.type === 'capacity') void closedLoop(message.seconds, message.concurrency).then(reply);
  else if (message.type === 'offer') void openLoop(message.rate, message.seconds).then(reply);
  else if (message.type === 'exit') {
    sessions.forEach((s) => s.destroy());
    process.exit(0);
  }
});
process.send!({ type: 'ready' });
