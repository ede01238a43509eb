/**
 * GET and POST on Vault's HTTP API over Node's own http/https modules, with an
 * explicit token per call, answers as plain objects, failures as WcaErrors.
 *
 * Every byte of an answer is hostile until checked, so the transport is kept
 * this small and strict: a redirect is never followed (it would carry
 * X-Vault-Token, a login body or Transit digests to wherever Location points)
 * but refused; every call has a total deadline that destroys the socket; the
 * body is read up to limits.upstreamResponseMaxBytes and the connection cut
 * past it; TLS trusts only caFile when one is given.
 */
import http from 'node:http';
import https from 'node:https';
import { limits } from '../../src/upstream/sdk/limits.js';
import { isWcaError } from '../../src/upstream/sdk/errors.js';
import { untrustedText } from '../../src/upstream/sdk/untrusted-text.js';
import { vaultAbortedError, vaultBadResponse, vaultHttpError, vaultTimeoutError, vaultTransportError, withoutSecrets, type VaultOperation } from './errors.js';

export interface VaultAuthInfo {
  client_token?: unknown;
  lease_duration?: unknown;
  renewable?: unknown;
}

/** Vault's response envelope (the parts we read). */
export interface VaultResponse {
  data?: Record<string, unknown>;
  auth?: VaultAuthInfo | null;
  warnings?: unknown;
}

export interface VaultCallOptions {
  operation: VaultOperation;
  /** Omitted for login calls, which must not carry a stale token. */
  token?: string;
  /** Sent as X-Vault-Namespace instead of the configured namespace ('' = none). */
  namespace?: string;
  signal?: AbortSignal;
}

export interface VaultClient {
  /** Vault's address, for messages. */
  readonly address: string;
  read(path: string, options: VaultCallOptions): Promise<VaultResponse>;
  write(path: string, body: Record<string, unknown>, options: VaultCallOptions): Promise<VaultResponse>;
}

export interface VaultClientOptions {
  address: string;
  namespace?: string;
  /** PEM trusted for Vault's TLS certificate (in addition to nothing else: strict). */
  caPem?: string;
  /** Total deadline of one call, connect to last byte. */
  timeoutMs: number;
}

function errorTexts(body: unknown): string[] {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  // A hostile or broken server could send thousands; ten say enough.
  return Array.isArray(errors) ? errors.filter((e): e is string => typeof e === 'string').slice(0, 10) : [];
}

/** The address as messages show it: never with a user:password part. */
function shownAddress(address: string): string {
  const u = new URL(address);
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

/** Characters of a refused redirect's Location kept in the message. */
const maxLocationChars = 200;

interface RawAnswer {
  status: number;
  location: string | undefined;
  text: string;
}

class BodyTooLarge extends Error {}

export function createVaultClient(options: VaultClientOptions): VaultClient {
  const address = shownAddress(options.address);
  const base = new URL(options.address);
  // A user:password in the address is for messages only; Vault does not use basic auth.
  base.username = '';
  base.password = '';
  const secure = base.protocol === 'https:';
  // One agent per client: keep-alive to Vault, and its CA only for Vault.
  const agent = secure
    ? new https.Agent({ keepAlive: true, ...(options.caPem ? { ca: options.caPem } : {}) })
    : new http.Agent({ keepAlive: true });
  const prefix = base.pathname.replace(/\/+$/, '');

  function send(method: 'GET' | 'POST', path: string, headers: Record<string, string>, payload: string | undefined, signal: AbortSignal): Promise<RawAnswer> {
    const url = new URL(`${prefix}/v1/${path}`, base);
    return new Promise<RawAnswer>((resolve, reject) => {
      const request = (secure ? https : http).request(
        url,
        {
          method,
          agent,
          signal,
          headers: {
            accept: 'application/json',
            ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
            ...headers,
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > limits.upstreamResponseMaxBytes) {
              // Stop reading and drop the connection: the rest is never buffered.
              request.destroy(new BodyTooLarge());
              return;
            }
            chunks.push(chunk);
          });
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, location: response.headers.location, text: Buffer.concat(chunks).toString('utf8') }),
          );
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
  }

  async function call(method: 'GET' | 'POST', path: string, body: Record<string, unknown> | undefined, o: VaultCallOptions): Promise<VaultResponse> {
    if (o.signal?.aborted) throw vaultAbortedError(path);
    const namespace = o.namespace ?? options.namespace ?? '';
    const headers = {
      ...(o.token ? { 'X-Vault-Token': o.token } : {}),
      ...(namespace ? { 'X-Vault-Namespace': namespace } : {}),
    };
    const deadline = AbortSignal.timeout(options.timeoutMs);
    const signal = o.signal ? AbortSignal.any([deadline, o.signal]) : deadline;
    let answer: RawAnswer;
    try {
      answer = await send(method, path, headers, body === undefined ? undefined : JSON.stringify(body), signal);
    } catch (err) {
      if (isWcaError(err)) throw err;
      if (err instanceof BodyTooLarge) throw vaultBadResponse(path, `answer is larger than ${limits.upstreamResponseMaxBytes} bytes`);
      if (deadline.aborted) throw vaultTimeoutError(address, path, options.timeoutMs);
      if (o.signal?.aborted) throw vaultAbortedError(path);
      // Only the error's code: the request (and its headers) stay out of messages and logs.
      throw vaultTransportError(address, path, (err as { code?: string } | undefined)?.code);
    }
    const { status, location, text } = answer;
    if (status >= 300 && status < 400) {
      const where = location === undefined ? 'no Location' : `Location ${untrustedText(location, maxLocationChars)}`;
      throw vaultBadResponse(path, `answered a redirect (HTTP ${status}, ${where}); redirects are never followed: set address to Vault itself`);
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = text;
    }
    if (status < 200 || status >= 300) {
      // Vault (or something posing as it) may echo what we sent; none of it goes into a message.
      const sent = [o.token, ...(o.operation === 'login' && body ? Object.values(body) : [])].filter((v): v is string => typeof v === 'string');
      throw vaultHttpError(o.operation, path, status, errorTexts(parsed).map((t) => withoutSecrets(t, sent)));
    }
    // 204 No Content (e.g. creating a Transit key) is a success without a body.
    if (parsed === undefined) return {};
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw vaultBadResponse(path, 'answer is not a JSON object');
    return parsed as VaultResponse;
  }

  return {
    address,
    read: (path, o) => call('GET', path, undefined, o),
    write: (path, body, o) => call('POST', path, body, o),
  };
}
