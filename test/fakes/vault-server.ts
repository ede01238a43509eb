/**
 * A FAKE Vault, only for what a real OpenBao cannot be made to do (hang, answer
 * garbage, sign a wrong chain, ignore namespaces like Vault Community Edition):
 * everything else is tested against a real OpenBao (test/plugins/vault/openbao*.ts).
 * Its answers follow the real shapes, and test/plugins/vault/fake-shapes.test.ts
 * compares them with answers recorded from a real server. Endpoints:
 *
 *   POST /v1/<mount>/root/sign-intermediate, /v1/<mount>/issuer/<ref>/sign-intermediate
 *   GET  /v1/<mount>/cert/ca_chain, /v1/<mount>/issuer/<ref>/json        (unauthenticated)
 *   POST /v1/auth/<approle>/login, /v1/auth/<kubernetes>/login
 *   GET  /v1/auth/token/lookup-self, POST /v1/auth/token/renew-self
 *   GET  /v1/sys/internal/ui/mounts                                      (unauthenticated)
 *
 * Answers use Vault's envelope ({data, auth, warnings, ...}) and its error body
 * {"errors": [...]}; tokens travel in X-Vault-Token, namespaces in
 * X-Vault-Namespace. It signs CSRs with the shared test CA, clamps TTLs above
 * maxTtlSeconds with Vault's warning, and can fail, hang or misbehave on request.
 */
import type http from 'node:http';
import { randomBytes } from 'node:crypto';
import { HttpTestServer, readBody, type TlsMaterial } from './http-test-server.js';
import type { Misbehaviour, TestRootCa } from './upstream-ca.js';

export interface FakeToken {
  /** Seconds; 0 = never expires. */
  ttlSeconds: number;
  renewable: boolean;
  /** Seconds after creation beyond which renewals are capped (0 = none). */
  maxTtlSeconds: number;
  createdAt: number;
  expiresAt: number;
  canSign: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface Override {
  status: number;
  errors?: string[];
  /** Raw body instead of {"errors": [...]}. */
  raw?: string;
}

export interface FakeVaultOptions {
  ca: TestRootCa;
  now?: () => number;
  pkiMount?: string;
  /** Issuer names accepted in /issuer/<ref>/...; "default" always works. */
  issuers?: string[];
  namespace?: string;
  /** Answer whatever X-Vault-Namespace says, as Vault Community Edition does. */
  ignoresNamespace?: boolean;
  /** Mount's max TTL: longer requests are clamped with a warning. */
  maxTtlSeconds?: number;
  tls?: TlsMaterial;
  approle?: { mount?: string; roleId: string; secretId: string; tokenTtlSeconds: number; tokenMaxTtlSeconds: number };
  kubernetes?: { mount?: string; role: string; jwt: string; tokenTtlSeconds: number };
}

export class FakeVaultServer extends HttpTestServer {
  readonly requests: RecordedRequest[] = [];
  readonly tokens = new Map<string, FakeToken>();
  /** Answer matching requests with this instead (status, Vault error texts). */
  overrides: { match: RegExp; response: Override; times: number }[] = [];
  /** Never answer requests whose path matches (to test timeouts). */
  hang: RegExp | undefined;
  misbehave: Misbehaviour | undefined;
  /** Put this (foreign) root at the end of ca_chain instead of ours. */
  foreignRootPem: string | undefined;
  private readonly now: () => number;

  constructor(private readonly options: FakeVaultOptions) {
    super(options.tls);
    this.now = options.now ?? Date.now;
  }

  /** Creates a token as Vault's token store would; returns its ID. */
  addToken(t: Partial<FakeToken> = {}): string {
    const id = `hvs.${randomBytes(18).toString('base64url')}`;
    const ttlSeconds = t.ttlSeconds ?? 3600;
    const createdAt = this.now();
    this.tokens.set(id, {
      ttlSeconds,
      renewable: t.renewable ?? true,
      maxTtlSeconds: t.maxTtlSeconds ?? 0,
      createdAt,
      expiresAt: ttlSeconds === 0 ? Infinity : createdAt + ttlSeconds * 1000,
      canSign: t.canSign ?? true,
    });
    return id;
  }

  count(pathPattern: RegExp): number {
    return this.requests.filter((r) => pathPattern.test(r.path)).length;
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const text = (await readBody(req)).toString('utf8');
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      return send(res, 400, { errors: ['failed to parse JSON input: invalid character'] });
    }
    const url = new URL(req.url ?? '/', 'http://vault');
    const path = url.pathname.replace(/^\/v1\//, '');
    this.requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body });

    if (this.hang?.test(path)) return; // the socket stays open until the client gives up
    const override = this.overrides.find((o) => o.match.test(path) && o.times > 0);
    if (override) {
      override.times--;
      const o = override.response;
      res.writeHead(o.status, { 'content-type': 'application/json' });
      return void res.end(o.raw ?? JSON.stringify({ errors: o.errors ?? [] }));
    }
    const namespace = req.headers['x-vault-namespace'] ?? undefined;
    if (namespace !== this.options.namespace && !this.options.ignoresNamespace) {
      if (namespace !== undefined) return send(res, 404, { errors: ['namespace not found'] });
      return send(res, 404, { errors: [`no handler for route "${path}". route entry not found.`] });
    }
    try {
      const answer = await this.route(req.method ?? 'GET', path, body, req.headers['x-vault-token'] as string | undefined);
      send(res, answer.status, answer.body);
    } catch (err) {
      send(res, 500, { errors: [`1 error occurred:\n\t* ${(err as Error).message}\n\n`] });
    }
  }

  private async route(method: string, path: string, body: Record<string, unknown>, token?: string): Promise<Answer> {
    const mount = this.options.pkiMount ?? 'pki';
    const approle = this.options.approle;
    const k8s = this.options.kubernetes;
    if (method === 'POST' && approle && path === `auth/${approle.mount ?? 'approle'}/login`) {
      if (body.role_id !== approle.roleId || body.secret_id !== approle.secretId) return err(400, 'invalid role or secret ID');
      return this.login(approle.tokenTtlSeconds, approle.tokenMaxTtlSeconds);
    }
    if (method === 'POST' && k8s && path === `auth/${k8s.mount ?? 'kubernetes'}/login`) {
      if (body.role !== k8s.role || body.jwt !== k8s.jwt) return err(403, 'permission denied');
      return this.login(k8s.tokenTtlSeconds, 0);
    }
    if (method === 'GET' && path === 'sys/internal/ui/mounts') return ok({ data: { auth: {}, secret: {} } });
    const issuerJson = new RegExp(`^${mount}/issuer/([^/]+)/json$`).exec(path);
    if (method === 'GET' && issuerJson) {
      if (!this.knownIssuer(issuerJson[1]!)) return err(500, `unable to find PKI issuer for reference: ${issuerJson[1]}`);
      return ok({ data: { certificate: this.caChain()[0], ca_chain: this.caChain(), issuer_id: 'f0e1d2c3-0000-4000-8000-000000000001', issuer_name: issuerJson[1] } });
    }
    if (method === 'GET' && path === `${mount}/cert/ca_chain`) {
      const joined = this.caChain().join('');
      return ok({ data: { certificate: joined, ca_chain: joined, revocation_time: 0 } });
    }
    // Everything below needs a live token.
    const t = token ? this.tokens.get(token) : undefined;
    if (!t || this.now() >= t.expiresAt) return err(403, 'permission denied');
    if (method === 'GET' && path === 'auth/token/lookup-self') {
      const ttl = t.ttlSeconds === 0 ? 0 : Math.max(0, Math.floor((t.expiresAt - this.now()) / 1000));
      return ok({ data: { ttl, renewable: t.renewable, creation_ttl: t.ttlSeconds, policies: ['default', 'pki-int'] } });
    }
    if (method === 'POST' && path === 'auth/token/renew-self') return this.renew(token!, t);
    const sign = new RegExp(`^${mount}/(?:root|issuer/([^/]+))/sign-intermediate$`).exec(path);
    if (method === 'POST' && sign) {
      if (!t.canSign) return err(403, multiError('permission denied'));
      if (sign[1] !== undefined && !this.knownIssuer(sign[1])) {
        return err(500, multiError(`could not fetch the CA certificate (was one set?): unable to find PKI issuer for reference: ${sign[1]}`));
      }
      return this.signIntermediate(body);
    }
    return err(404, `no handler for route "${path}". route entry not found.`);
  }

  private knownIssuer(ref: string): boolean {
    return ref === 'default' || (this.options.issuers ?? []).includes(ref);
  }

  /** The issuer's chain as Vault ≥ 1.11 returns it: issuing CA first, root last. */
  private caChain(): string[] {
    const { ca } = this.options;
    return [...ca.chainPem, this.foreignRootPem ?? ca.rootPem];
  }

  private login(ttlSeconds: number, maxTtlSeconds: number): Answer {
    const id = this.addToken({ ttlSeconds, maxTtlSeconds, renewable: true });
    return ok({ auth: { client_token: id, accessor: randomBytes(8).toString('hex'), policies: ['default'], lease_duration: ttlSeconds, renewable: true } });
  }

  private renew(id: string, t: FakeToken): Answer {
    if (!t.renewable) return err(400, 'lease is not renewable');
    let ttl = t.ttlSeconds;
    const warnings: string[] = [];
    if (t.maxTtlSeconds > 0) {
      const left = Math.floor((t.createdAt + t.maxTtlSeconds * 1000 - this.now()) / 1000);
      if (left < ttl) {
        warnings.push(`TTL of "${ttl}s" exceeded the effective max_ttl of "${left}s"; TTL value is capped accordingly`);
        ttl = Math.max(left, 0);
      }
    }
    t.expiresAt = this.now() + ttl * 1000;
    return ok({ auth: { client_token: id, lease_duration: ttl, renewable: t.renewable }, warnings: warnings.length ? warnings : null });
  }

  private async signIntermediate(body: Record<string, unknown>): Promise<Answer> {
    if (typeof body.csr !== 'string' || !body.csr.includes('CERTIFICATE REQUEST')) return err(400, 'no CSR found in the request');
    if (typeof body.common_name !== 'string' || body.common_name === '') {
      return err(400, 'the common_name field is required, or must be provided in a CSR with "use_csr_values" set to true');
    }
    const requested = parseTtl(body.ttl);
    if (requested === undefined) return err(400, `error parsing ttl: invalid duration "${String(body.ttl)}"`);
    // The notes every real mint gets, in the real order: no AIA URLs on the mount, then our pathLen 0.
    const warnings: string[] = [aiaWarning];
    if (body.max_path_length === 0) warnings.push(pathLenZeroWarning);
    let ttl = requested;
    const max = this.options.maxTtlSeconds;
    if (max !== undefined && ttl > max) {
      warnings.push(`TTL "${goDuration(ttl)}" is longer than permitted maxTTL "${goDuration(max)}", so maxTTL is being used`);
      ttl = max;
    }
    const { ca } = this.options;
    const signed = await ca.signCaCsr(body.csr, {
      ttlSeconds: ttl,
      uriSan: typeof body.uri_sans === 'string' && body.uri_sans ? body.uri_sans : undefined,
      pathLen: typeof body.max_path_length === 'number' && body.max_path_length >= 0 ? body.max_path_length : undefined,
      misbehave: this.misbehave,
    });
    const chain = this.caChain();
    return ok({
      data: {
        certificate: signed.certificatePem,
        issuing_ca: chain[0],
        // Real servers list the new certificate first, then the issuer's chain.
        ca_chain: [signed.certificatePem, ...chain],
        serial_number: randomBytes(20).toString('hex').match(/../g)!.join(':'),
        expiration: Math.floor(this.now() / 1000) + ttl,
      },
      warnings: warnings.length ? warnings : null,
    });
  }
}

interface Answer {
  status: number;
  body: unknown;
}

const ok = (payload: Record<string, unknown>): Answer => ({
  status: 200,
  body: { request_id: randomBytes(8).toString('hex'), lease_id: '', renewable: false, lease_duration: 0, data: null, wrap_info: null, warnings: null, auth: null, ...payload },
});
const err = (status: number, ...errors: string[]): Answer => ({ status, body: { errors } });

/** How Vault's Go multierror formats one error. */
const multiError = (text: string) => `1 error occurred:\n\t* ${text}\n\n`;

export const aiaWarning =
  "This mount hasn't configured any authority information access (AIA) fields; this may make it harder for systems to find missing certificates in the chain or to validate revocation status of certificates. Consider updating /config/urls or the newly generated issuer with this information.";
export const pathLenZeroWarning = 'Max path length of the signed certificate is zero. This certificate cannot be used to issue intermediate CA certificates.';

/** Go's time.Duration String(): 3600 → "1h0m0s", 1800 → "30m0s", 90 → "1m30s". */
function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Vault accepts Go durations ("72h", "90s", "1h30m") and plain seconds. */
function parseTtl(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string' || value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const units: Record<string, number> = { h: 3600, m: 60, s: 1 };
  let total = 0;
  const rest = value.replace(/(\d+)([hms])/g, (_, n: string, u: string) => {
    total += Number(n) * units[u]!;
    return '';
  });
  return rest === '' ? total : undefined;
}
