import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import * as x509 from '@peculiar/x509';
import { connect, decodeSecret, envoyNode, secretTypeUrl, XdsStream, type AnyMsg, type DecodedSecret } from '../sds/envoy-client.js';

const authorityByLeaf = new Map<string, string>();

/**
 * The authority ID (hex SKI of the signing intermediate) a leaf names in its AKI.
 * Remembered per leaf: the handshake loop asks it of the same few leaves on every
 * handshake, and parsing each time with @peculiar/x509 took most of the loop's CPU.
 */
export function authorityOf(leafPem: string): string {
  let id = authorityByLeaf.get(leafPem);
  if (id === undefined) {
    id = new x509.X509Certificate(leafPem).getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId!;
    authorityByLeaf.set(leafPem, id);
  }
  return id;
}

const firstPem = (chain: string) => chain.slice(0, chain.indexOf('-----END CERTIFICATE-----') + 25);

/** One process-wide order of installs, so the contexts two Envoys served at the same moment can be told. */
let installs = 0;

export interface Installed {
  context: tls.SecureContext;
  leafAuthority: string;
  bundlePem: string;
  seq: number;
}

/**
 * Every (a, b) pair of contexts that were both being served at some moment: the
 * handshakes a fleet can see, whatever the timing of the loop. Context i of one
 * Envoy serves from its install until the next one.
 */
export function coexisting(a: SimulatedEnvoy, b: SimulatedEnvoy): [Installed, Installed][] {
  const until = (list: Installed[], i: number) => list[i + 1]?.seq ?? Infinity;
  const out: [Installed, Installed][] = [];
  a.installed.forEach((x, i) =>
    b.installed.forEach((y, j) => {
      if (x.seq < until(b.installed, j) && y.seq < until(a.installed, i)) out.push([x, y]);
    }),
  );
  return out;
}

export interface EnvoyOptions {
  address: string;
  /** The bundle the Envoy was bootstrapped with, to verify the SDS server. */
  bootstrapBundlePem: string;
  serverId: string;
  nodeId: string;
  /** `authorization` metadata of its first streams (a join token); none for an mTLS renewal. */
  authorization?: string;
  /** The SVID it presents on its connection (mTLS renewal, e.g. after its replica went away). */
  identity?: { chainPem: string; privateKeyPem: string };
  protocol: 'sotw' | 'delta';
  /** A busy Envoy: applies (and so ACKs) each bundle push this much later. */
  bundleDelayMs?: number;
}

/**
 * One Envoy as far as SDS and TLS go: its own connection, a `default` stream
 * (SotW or Delta) and a `ROOTCA` stream, each push installed into a real Node TLS
 * context (cert + key + current trust bundle) BEFORE it is ACKed, as Envoy does:
 * an ACK means "serving with it". Every leaf it held is kept, in order.
 */
export class SimulatedEnvoy {
  context?: tls.SecureContext;
  readonly leaves: string[] = [];
  readonly bundles: string[] = [];
  readonly installed: Installed[] = [];
  /** When each leaf in `leaves` arrived (ms since epoch), to check none was already expired. */
  readonly receivedAt: number[] = [];
  /** Set once every stream has ended (the server went away or refused it). */
  ended = false;
  /** The certificate secret it serves now (key included: test material only, never written anywhere). */
  cert?: DecodedSecret;
  private bundle?: string;
  private readonly client: grpc.Client;
  private readonly streams: XdsStream[] = [];
  private readonly ready: Promise<void>;
  private markReady!: () => void;

  constructor(readonly options: EnvoyOptions) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    const { identity } = options;
    const credentials = grpc.credentials.createSsl(Buffer.from(options.bootstrapBundlePem), identity ? Buffer.from(identity.privateKeyPem) : null, identity ? Buffer.from(identity.chainPem) : null, {
      checkServerIdentity: (_host, cert) => (cert.subjectaltname === `URI:${options.serverId}` ? undefined : new Error(`server is ${cert.subjectaltname}`)),
    });
    // Its own connection, like a separate Envoy process.
    this.client = connect(options.address, credentials, { 'grpc.use_local_subchannel_pool': 1 });
    const metadata = () => {
      const m = new grpc.Metadata();
      if (options.authorization) m.set('authorization', options.authorization);
      return m;
    };
    const node = envoyNode(options.nodeId);
    if (options.protocol === 'sotw') {
      this.sotw(new XdsStream((this.client as any).StreamSecrets(metadata())), 'default', node);
    } else {
      const s = new XdsStream((this.client as any).DeltaSecrets(metadata()));
      this.streams.push(s);
      s.send({ node, resource_names_subscribe: ['default'], type_url: secretTypeUrl });
      void this.loop(s, (res) => {
        for (const r of res.resources as { resource: AnyMsg }[]) this.install(decodeSecret(r.resource));
        s.send({ type_url: secretTypeUrl, response_nonce: res.nonce });
      });
    }
    this.sotw(new XdsStream((this.client as any).StreamSecrets(metadata())), 'ROOTCA', node);
  }

  /** Resolves once it holds a certificate and a bundle. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** The authority of the leaf it serves now. */
  currentAuthority(): string {
    return authorityOf(this.leaves.at(-1)!);
  }

  close(): void {
    for (const s of this.streams) s.cancel();
    this.client.close();
  }

  private sotw(s: XdsStream, name: string, node: object): void {
    this.streams.push(s);
    s.send({ node, resource_names: [name], type_url: secretTypeUrl });
    void this.loop(s, async (res) => {
      if (name === 'ROOTCA' && this.options.bundleDelayMs) await new Promise((r) => setTimeout(r, this.options.bundleDelayMs));
      for (const r of res.resources as AnyMsg[]) this.install(decodeSecret(r));
      s.send({ version_info: res.version_info, resource_names: [name], type_url: secretTypeUrl, response_nonce: res.nonce });
    });
  }

  private live = 0;

  private async loop(s: XdsStream, onResponse: (res: any) => void | Promise<void>): Promise<void> {
    this.live++;
    for (;;) {
      const res = await s.next().catch(() => undefined);
      if (!res) {
        if (--this.live === 0) this.ended = true;
        return;
      }
      await onResponse(res);
    }
  }

  private install(secret: DecodedSecret): void {
    if (secret.certificateChain) {
      this.cert = secret;
      this.leaves.push(firstPem(secret.certificateChain));
      this.receivedAt.push(Date.now());
    }
    if (secret.trustedCa) {
      this.bundle = secret.trustedCa;
      this.bundles.push(secret.trustedCa);
    }
    if (!this.cert || !this.bundle) return;
    this.context = tls.createSecureContext({ cert: this.cert.certificateChain, key: this.cert.privateKey, ca: this.bundle, minVersion: 'TLSv1.2' });
    this.installed.push({ context: this.context, leafAuthority: this.currentAuthority(), bundlePem: this.bundle, seq: ++installs });
    this.markReady();
  }
}

/**
 * Real mutual TLS between two contexts: the server presents `serverCtx`
 * (requestCert, rejectUnauthorized), the client `clientCtx`, and each side checks
 * the peer's SPIFFE ID. One handshake at a time (the server's context is set per call).
 */
export class MtlsProbe {
  private serverCtx?: tls.SecureContext;

  private constructor(
    private readonly tlsServer: tls.Server,
    private readonly port: number,
    private readonly ids: { client: string; server: string },
  ) {}

  static async start(ids: { client: string; server: string }): Promise<MtlsProbe> {
    const tlsServer = tls.createServer({
      // The context of the moment, per handshake, as Envoy's listener after an SDS update.
      SNICallback: (_name, cb) => cb(null, probe.serverCtx!),
      requestCert: true,
      rejectUnauthorized: true,
    });
    // Only a verified client with the expected ID hears back, with the authority of the leaf it presented.
    tlsServer.on('secureConnection', (socket) => {
      const peer = socket.getPeerCertificate();
      if (peer.subjectaltname !== `URI:${ids.client}`) return void socket.end(`refused ${peer.subjectaltname}`);
      socket.end(`accepted ${authorityOf(new X509Certificate(peer.raw).toString())}`);
    });
    tlsServer.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    const probe = new MtlsProbe(tlsServer, (tlsServer.address() as net.AddressInfo).port, ids);
    return probe;
  }

  /** One handshake; resolves with "<client leaf authority>><server leaf authority>", rejects with either side's refusal. */
  shake(clientCtx: tls.SecureContext, serverCtx: tls.SecureContext): Promise<string> {
    this.serverCtx = serverCtx;
    return new Promise<string>((resolve, reject) => {
      let heard = '';
      let serverLeaf = '';
      const socket = tls.connect({
        host: '127.0.0.1',
        port: this.port,
        servername: 'server',
        secureContext: clientCtx,
        checkServerIdentity: (_h, cert) => (cert.subjectaltname === `URI:${this.ids.server}` ? undefined : new Error(`client saw ${cert.subjectaltname}`)),
      });
      socket.setTimeout(3_000, () => socket.destroy(new Error('handshake took over 3 s')));
      socket.on('error', reject);
      // TLS 1.3: the client is connected before the server has checked its certificate; its answer says it did.
      socket.on('secureConnect', () => (serverLeaf = authorityOf(new X509Certificate(socket.getPeerCertificate().raw).toString())));
      socket.on('data', (chunk: Buffer) => (heard += chunk.toString()));
      socket.on('close', () => {
        const accepted = /^accepted ([0-9a-f]+)$/.exec(heard);
        if (accepted && serverLeaf) resolve(`${accepted[1]}>${serverLeaf}`);
        else reject(new Error(`server did not accept the client: "${heard}"`));
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.tlsServer.close(() => resolve()));
  }
}

export interface HandshakeLoop {
  ok: number;
  failures: { at: number; error: string }[];
  /** (client leaf authority > server leaf authority) of successful handshakes, with counts. */
  pairs: Map<string, number>;
  stop(): Promise<void>;
}

/** Handshakes between the current contexts of `client` and `server`, one after another every `intervalMs`, until stopped. */
export async function startHandshakeLoop(client: SimulatedEnvoy, server: SimulatedEnvoy, ids: { client: string; server: string }, intervalMs = 20): Promise<HandshakeLoop> {
  const probe = await MtlsProbe.start(ids);
  let running = true;
  const loop: HandshakeLoop = {
    ok: 0,
    failures: [],
    pairs: new Map(),
    stop: async () => {
      running = false;
      await done;
      await probe.close();
    },
  };
  const done = (async () => {
    while (running) {
      const at = Date.now();
      await probe.shake(client.context!, server.context!).then(
        (pair) => {
          loop.ok++;
          loop.pairs.set(pair, (loop.pairs.get(pair) ?? 0) + 1);
        },
        (err: Error) => loop.failures.push({ at, error: `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}` }),
      );
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return loop;
}
