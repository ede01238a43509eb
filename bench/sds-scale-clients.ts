/**
 * Child process of bench/sds-scale.ts: plays many Envoys, one SDS stream per
 * secret as Envoy opens them outside ADS, so the server is measured alone.
 *
 * It speaks gRPC over node:http2 directly (a 5-byte length prefix per message,
 * the official Envoy protos for the bytes): a grpc-js client spends more CPU per
 * call than the server under test, and on a 2-core machine that would be measured
 * as server time. Every response is checked before it counts: exactly one Secret
 * of the Secret type, named as requested; `default` carries a PEM chain whose
 * leaf names this node's SPIFFE ID and a PKCS#8 key, `ROOTCA` a trusted CA.
 *
 * argv: address nodes connections. IPC with the parent: {served, ms, cpuMs} once
 * every stream got a valid first response (both counted from the first connection
 * attempt); on {arm} it answers {armed}, then {pushed} once every certificate
 * stream got a valid response with a new version. Any failure is {error, message}.
 */
import http2 from 'node:http2';
import { check, frame, parseMessages, secretTypeUrl, streamPath, type WireResponse } from './sds-wire.js';

const [address, nodesArg, connectionsArg] = process.argv.slice(2);
const nodes = Number(nodesArg);
const connections = Number(connectionsArg ?? 100);
/** Streams opened per event-loop turn, so the server starts answering while the rest are opened. */
const openBatch = 200;

const send = (message: object) => process.send!(message);
let failed = false;
/** Reports the first failure, then exits once the report is on its way (exit before that would drop it). */
const fail = (message: string) => {
  if (failed) return;
  failed = true;
  process.send!({ type: 'error', message }, () => process.exit(1));
};

interface StreamState {
  /** Latest version received; undefined until the first response. */
  version?: string;
  /** What the stream held when the parent armed the re-issue. */
  armedVersion?: string;
  pushed: boolean;
}

let firstPending = nodes * 2;
let armed = false;
let pushPending = 0;
const states: StreamState[] = [];

const started = performance.now();
const cpuAtStart = process.cpuUsage();
const cpuMs = () => {
  const { user, system } = process.cpuUsage(cpuAtStart);
  return (user + system) / 1000;
};
const sessions: http2.ClientHttp2Session[] = [];

/** Node n's connection, opened on first use: both streams of a node share one, as an Envoy's do. */
function sessionFor(n: number): http2.ClientHttp2Session {
  const i = n % connections;
  if (!sessions[i]) {
    sessions[i] = http2.connect(`http://${address}`);
    sessions[i].on('error', (err) => fail(`connection: ${err.message}`));
  }
  return sessions[i];
}

function open(n: number, name: string, index: number): void {
  const state: StreamState = { pushed: name === 'ROOTCA' };
  states.push(state);
  const spiffeId = Buffer.from(`spiffe://cluster.local/ns/bench/sa/w${n}`);
  const stream = sessionFor(n).request(
    { ':method': 'POST', ':path': streamPath, 'content-type': 'application/grpc', te: 'trailers' },
    { endStream: false },
  );
  parseMessages(stream, (response: WireResponse) => {
    try {
      check(response, name, spiffeId);
    } catch (err) {
      fail(`stream ${index} (${name}): ${(err as Error).message}`);
      return;
    }
    stream.write(frame({ version_info: response.version_info, resource_names: [name], type_url: secretTypeUrl, response_nonce: response.nonce }));
    const first = state.version === undefined;
    state.version = response.version_info;
    if (first) {
      if (--firstPending === 0) send({ type: 'served', ms: performance.now() - started, cpuMs: cpuMs() });
    } else if (armed && !state.pushed && response.version_info !== state.armedVersion) {
      state.pushed = true;
      if (--pushPending === 0) send({ type: 'pushed' });
    }
  });
  const ended = (headers: http2.IncomingHttpHeaders) => {
    const status = headers['grpc-status'];
    if (status !== undefined) fail(`stream ${index} (${name}) ended with grpc-status ${status}: ${headers['grpc-message'] ?? ''}`);
  };
  stream.on('response', ended); // a trailers-only answer is an error
  stream.on('trailers', ended);
  stream.on('error', (err) => fail(`stream ${index} (${name}): ${err.message}`));
  stream.write(frame({ node: { id: `ns/bench/sa/w${n}`, user_agent_name: 'envoy' }, resource_names: [name], type_url: secretTypeUrl }));
}

let next = 0;
function openSome(): void {
  for (const end = Math.min(nodes * 2, next + openBatch); next < end; next++) {
    open(next >> 1, next % 2 === 0 ? 'default' : 'ROOTCA', next);
  }
  if (next < nodes * 2) setImmediate(openSome);
}
openSome();

process.on('message', (message: { type: string }) => {
  if (message.type === 'arm') {
    armed = true;
    // A CA rotation re-issues every certificate; the bundle may or may not change.
    for (const state of states) {
      state.armedVersion = state.version;
      if (!state.pushed) pushPending++;
    }
    send({ type: 'armed' });
  } else if (message.type === 'exit') {
    sessions.forEach((s) => s.destroy());
    process.exit(0);
  }
});
