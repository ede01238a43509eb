/**
 * A local HTTP server that follows AWS Private CA's JSON 1.1 protocol for the
 * calls the aws-acm-pca plugin makes, so the real @aws-sdk/client-acm-pca talks
 * to it through an `endpoint` override:
 *
 *   POST /  content-type: application/x-amz-json-1.1
 *           x-amz-target: ACMPrivateCA.{IssueCertificate,GetCertificate,
 *                          GetCertificateAuthorityCertificate,DescribeCertificateAuthority,
 *                          RevokeCertificate}
 *
 * Every request's SigV4 signature is recomputed from the known test credentials
 * (credential scope <date>/<region>/acm-pca/aws4_request); errors are
 * {"__type": "...", "message": "..."} with AWS's HTTP statuses. CSRs are signed
 * by the shared test CA, so answers are real certificates.
 */
import type http from 'node:http';
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { HttpTestServer, readBody } from './http-test-server.js';
import type { Misbehaviour, TestRootCa } from './upstream-ca.js';

/** RevocationReason as the AWS Private CA API Reference lists it. */
const revocationReasons = new Set(['UNSPECIFIED', 'KEY_COMPROMISE', 'CERTIFICATE_AUTHORITY_COMPROMISE', 'AFFILIATION_CHANGED', 'SUPERSEDED', 'CESSATION_OF_OPERATION', 'PRIVILEGE_WITHDRAWN', 'A_A_COMPROMISE']);

export const testCredentials = { accessKeyId: 'AKIAWCATESTEXAMPLE01', secretAccessKey: 'wca/test/secret+key/EXAMPLEKEY0123456789' };

export interface PcaCall {
  operation: string;
  body: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
}

export interface PcaFailure {
  operation: string;
  type: string;
  status: number;
  message: string;
  /** How many calls get it (Infinity for all). */
  times: number;
}

export interface FakePcaOptions {
  ca: TestRootCa;
  region?: string;
  caArn?: string;
  /** GetCertificate answers RequestInProgressException this many times per certificate. */
  pendingPolls?: number;
  now?: () => number;
}

interface Issued {
  certificatePem?: string;
  pendingPolls: number;
  work: Promise<string>;
}

export class FakePcaServer extends HttpTestServer {
  readonly calls: PcaCall[] = [];
  failures: PcaFailure[] = [];
  /** Operations that never get an answer. */
  readonly hang = new Set<string>();
  misbehave: Misbehaviour | undefined;
  /** Largest number of IssueCertificate/GetCertificate exchanges open at once. */
  maxConcurrent = 0;
  /** What DescribeCertificateAuthority says of the CA (AWS: CREATING, PENDING_CERTIFICATE, ACTIVE, DISABLED, EXPIRED, FAILED, DELETED). */
  caStatus = 'ACTIVE';
  readonly region: string;
  readonly caArn: string;
  private readonly issued = new Map<string, Issued>();
  private readonly tokens = new Map<string, { arn: string; at: number }>();
  /** Serials (as openssl prints them) revoked, with the reason. */
  readonly revoked = new Map<string, string>();
  private concurrent = 0;
  private readonly now: () => number;

  constructor(private readonly options: FakePcaOptions) {
    super();
    this.region = options.region ?? 'eu-west-1';
    this.caArn = options.caArn ?? `arn:aws:acm-pca:${this.region}:123456789012:certificate-authority/${randomUUID()}`;
    this.now = options.now ?? Date.now;
  }

  count(operation: string): number {
    return this.calls.filter((c) => c.operation === operation).length;
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('ACMPrivateCA.') ? target.slice('ACMPrivateCA.'.length) : '';
    if (req.method !== 'POST' || req.url !== '/' || req.headers['content-type'] !== 'application/x-amz-json-1.1' || !operation) {
      return fail(res, 404, 'UnknownOperationException', `no operation for ${req.method} ${req.url} target "${target}"`);
    }
    const authProblem = this.checkSignature(req, raw);
    if (authProblem) return fail(res, 400, authProblem.type, authProblem.message);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      return fail(res, 400, 'SerializationException', 'body is not JSON');
    }
    this.calls.push({ operation, body, headers: req.headers });
    if (this.hang.has(operation)) return;
    const failure = this.failures.find((f) => f.operation === operation && f.times > 0);
    if (failure) {
      failure.times--;
      return fail(res, failure.status, failure.type, failure.message);
    }
    if (body.CertificateAuthorityArn !== this.caArn) {
      return fail(res, 400, 'ResourceNotFoundException', `Could not find certificate authority ${String(body.CertificateAuthorityArn)}`);
    }
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    try {
      const answer = await this.operation(operation, body);
      if ('type' in answer) fail(res, 400, answer.type, answer.message);
      else send(res, 200, answer.ok);
    } finally {
      this.concurrent--;
    }
  }

  private async operation(op: string, body: Record<string, unknown>): Promise<{ ok: unknown } | { type: string; message: string }> {
    const { ca } = this.options;
    switch (op) {
      case 'IssueCertificate':
        return this.issue(body);
      case 'GetCertificate': {
        const entry = this.issued.get(String(body.CertificateArn));
        if (!entry) return { type: 'ResourceNotFoundException', message: `Could not find certificate ${String(body.CertificateArn)}` };
        entry.certificatePem ??= await entry.work;
        if (entry.pendingPolls > 0) {
          entry.pendingPolls--;
          return { type: 'RequestInProgressException', message: 'The request to issue the certificate is still in progress' };
        }
        return { ok: { Certificate: entry.certificatePem, CertificateChain: [...ca.chainPem, ca.rootPem].join('') } };
      }
      case 'GetCertificateAuthorityCertificate':
        return { ok: ca.chainPem.length > 0 ? { Certificate: ca.chainPem[0], CertificateChain: [...ca.chainPem.slice(1), ca.rootPem].join('') } : { Certificate: ca.rootPem } };
      case 'DescribeCertificateAuthority':
        return {
          ok: {
            CertificateAuthority: {
              Arn: this.caArn,
              Status: this.caStatus,
              Type: ca.chainPem.length > 0 ? 'SUBORDINATE' : 'ROOT',
              CertificateAuthorityConfiguration: { KeyAlgorithm: 'EC_prime256v1', SigningAlgorithm: 'SHA256WITHECDSA', Subject: { CommonName: 'Test CA' } },
            },
          },
        };
      case 'RevokeCertificate':
        return this.revoke(body);
      default:
        return { type: 'UnknownOperationException', message: `unknown operation ${op}` };
    }
  }

  private issue(body: Record<string, unknown>): { ok: unknown } | { type: string; message: string } {
    const validity = body.Validity as { Type?: string; Value?: number } | undefined;
    if (body.SigningAlgorithm !== 'SHA256WITHECDSA') {
      return { type: 'InvalidArgsException', message: `Signing algorithm ${String(body.SigningAlgorithm)} does not match the CA key algorithm EC_prime256v1` };
    }
    if (validity?.Type !== 'ABSOLUTE' || typeof validity.Value !== 'number') return { type: 'InvalidArgsException', message: 'Validity must be ABSOLUTE in this test server' };
    const ttlSeconds = validity.Value - Math.floor(this.now() / 1000);
    if (ttlSeconds <= 0) return { type: 'InvalidArgsException', message: 'Validity is in the past' };
    const template = String(body.TemplateArn);
    const pathLen = /SubordinateCACertificate_PathLen(\d)\/V1$/.exec(template)?.[1];
    if (pathLen === undefined) return { type: 'InvalidArgsException', message: `template ${template} does not issue CA certificates` };
    const token = typeof body.IdempotencyToken === 'string' ? body.IdempotencyToken : undefined;
    const previous = token ? this.tokens.get(token) : undefined;
    // Idempotency tokens for IssueCertificate time out after five minutes.
    if (previous && this.now() - previous.at < 5 * 60_000) return { ok: { CertificateArn: previous.arn } };
    const csrPem = Buffer.from(String(body.Csr), 'base64').toString('utf8');
    let uriSan: string | undefined;
    try {
      const san = new x509.Pkcs10CertificateRequest(csrPem).extensions.find((e) => e instanceof x509.SubjectAlternativeNameExtension);
      // The subordinate CA templates pass the CSR's subject alternative names through.
      uriSan = (san as x509.SubjectAlternativeNameExtension | undefined)?.names.toJSON().find((n) => n.type === 'url')?.value;
    } catch {
      return { type: 'MalformedCSRException', message: 'The certificate signing request is invalid' };
    }
    const arn = `${this.caArn}/certificate/${randomBytes(16).toString('hex')}`;
    const work = this.options.ca.signCaCsr(csrPem, { ttlSeconds, uriSan, pathLen: Number(pathLen), misbehave: this.misbehave });
    work.catch(() => undefined);
    this.issued.set(arn, { pendingPolls: this.options.pendingPolls ?? 1, work: work.then((r) => r.certificatePem) });
    if (token) this.tokens.set(token, { arn, at: this.now() });
    return { ok: { CertificateArn: arn } };
  }

  /**
   * RevokeCertificate: CertificateSerial in hexadecimal (String128, the colon form
   * `openssl x509 -text` prints), RevocationReason one of the enum; the answer is an
   * empty body, and RequestAlreadyProcessedException for a serial revoked before.
   */
  private async revoke(body: Record<string, unknown>): Promise<{ ok: unknown } | { type: string; message: string }> {
    const serial = body.CertificateSerial;
    if (typeof serial !== 'string' || serial.length > 128 || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})*$/.test(serial)) {
      return { type: 'InvalidRequestException', message: `The certificate serial ${String(serial)} is not in hexadecimal format` };
    }
    if (typeof body.RevocationReason !== 'string' || !revocationReasons.has(body.RevocationReason)) {
      return { type: 'InvalidRequestException', message: `RevocationReason ${String(body.RevocationReason)} is not a valid value` };
    }
    const wanted = serial.toLowerCase();
    const issued = await Promise.all([...this.issued.values()].map((e) => e.work.catch(() => undefined)));
    // As openssl prints it: octets of the positive number, no leading zero octet.
    const serials = issued.filter((p) => p !== undefined).map((p) => new x509.X509Certificate(p).serialNumber.toLowerCase().replace(/^(00)+(?=..)/, '').match(/../g)!.join(':'));
    if (!serials.includes(wanted)) return { type: 'ResourceNotFoundException', message: `Could not find certificate with serial ${serial}` };
    if (this.revoked.has(wanted)) return { type: 'RequestAlreadyProcessedException', message: 'Your request has already been completed.' };
    this.revoked.set(wanted, body.RevocationReason);
    return { ok: {} };
  }

  /** Recomputes the SigV4 signature; returns the AWS error for a bad one. */
  private checkSignature(req: http.IncomingMessage, body: Buffer): { type: string; message: string } | undefined {
    const auth = String(req.headers.authorization ?? '');
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) return { type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' };
    const [, keyId, date, region, service, signedHeaders, signature] = m as unknown as string[];
    if (keyId !== testCredentials.accessKeyId) return { type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
    if (service !== 'acm-pca' || region !== this.region) {
      return { type: 'InvalidSignatureException', message: `Credential should be scoped to correct service and region: 'acm-pca' in '${this.region}'.` };
    }
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    const names = signedHeaders!.split(';');
    if (!names.includes('host') || !names.includes('x-amz-date') || !amzDate.startsWith(date!)) {
      return { type: 'IncompleteSignatureException', message: 'host and x-amz-date must be signed' };
    }
    const payloadHash = createHash('sha256').update(body).digest('hex');
    const canonical = ['POST', '/', '', ...names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}`), '', signedHeaders, payloadHash].join('\n');
    const scope = `${date}/${region}/${service}/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
    const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
    const key = hmac(hmac(hmac(hmac(`AWS4${testCredentials.secretAccessKey}`, date!), region!), service!), 'aws4_request');
    const expected = createHmac('sha256', key).update(toSign).digest();
    if (!timingSafeEqual(expected, Buffer.from(signature!, 'hex'))) {
      return { type: 'InvalidSignatureException', message: 'The request signature we calculated does not match the signature you provided.' };
    }
    return undefined;
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() });
  res.end(JSON.stringify(body));
}

function fail(res: http.ServerResponse, status: number, type: string, message: string): void {
  send(res, status, { __type: type, message });
}
