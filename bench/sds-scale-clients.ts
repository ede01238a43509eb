/**
 * Child process of bench/sds-scale.ts: plays many Envoys (one stream per secret,
 * like Envoy outside ADS) so the server's CPU and memory are measured alone.
 * Protocol with the parent over IPC: {served} after every stream got its first
 * response; on {arm} it answers {armed}, then {pushed} once every stream got a
 * response with a new version.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { envoyProtoIncludeDirs, secretTypeUrl } from '../src/sds/protos.js';

const [address, nodesArg, channelsArg] = process.argv.slice(2);
const nodes = Number(nodesArg);
const channels = Number(channelsArg ?? 100);

const definition = protoLoader.loadSync('envoy/service/secret/v3/sds.proto', {
  includeDirs: [...envoyProtoIncludeDirs],
  keepCase: true,
  defaults: true,
});
const Client = (grpc.loadPackageDefinition(definition) as any).envoy.service.secret.v3.SecretDiscoveryService;
const clients = Array.from({ length: channels }, () => new Client(address, grpc.credentials.createInsecure()));

const send = (message: object) => process.send!(message);
let firstPending = nodes * 2;
let armed = false;
let pushPending = 0;
const started = performance.now();
const streams: { version?: string; pushed: boolean }[] = [];

for (let n = 0; n < nodes; n++) {
  for (const name of ['default', 'ROOTCA']) {
    const state: { version?: string; pushed: boolean } = { pushed: false };
    streams.push(state);
    const call = clients[streams.length % channels].StreamSecrets();
    call.on('error', (err: grpc.ServiceError) => {
      if (err.code !== grpc.status.CANCELLED) send({ type: 'error', message: `${err.code} ${err.details}` });
    });
    call.on('data', (res: { version_info: string; nonce: string }) => {
      call.write({ version_info: res.version_info, resource_names: [name], type_url: secretTypeUrl, response_nonce: res.nonce });
      if (state.version === undefined) {
        state.version = res.version_info;
        if (--firstPending === 0) send({ type: 'served', ms: performance.now() - started, cpuMs: process.cpuUsage().user / 1000 });
      } else if (armed && !state.pushed && res.version_info !== state.version) {
        state.pushed = true;
        if (--pushPending === 0) send({ type: 'pushed' });
      }
    });
    call.write({ node: { id: `ns/bench/sa/w${n}`, user_agent_name: 'envoy' }, resource_names: [name], type_url: secretTypeUrl });
  }
}

process.on('message', (message: { type: string }) => {
  if (message.type === 'arm') {
    // Only certificates change on a CA rotation; bundle streams may see a new root too.
    armed = true;
    pushPending = streams.filter((_, i) => i % 2 === 0).length;
    streams.forEach((s, i) => (s.pushed = i % 2 !== 0));
    send({ type: 'armed' });
  } else if (message.type === 'exit') {
    clients.forEach((c) => c.close());
    process.exit(0);
  }
});
