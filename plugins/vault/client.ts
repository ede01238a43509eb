/**
 * The only file that touches node-vault: GET and POST on Vault's HTTP API with
 * an explicit token per call, answers as plain objects, failures as WcaErrors.
 */
import { isWcaError } from '../../src/upstream/sdk/errors.js';
import { importOptional } from '../../src/upstream/sdk/optional.js';
import { vaultAbortedError, vaultBadResponse, vaultHttpError, vaultTransportError, type VaultOperation } from './errors.js';

const { default: nodeVault } = await importOptional('vault', 'node-vault', () => import('node-vault'));

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
  timeoutMs: number;
}

interface ApiResponseError {
  response: { statusCode: number; body: unknown };
}

const isApiResponseError = (e: unknown): e is ApiResponseError =>
  typeof (e as ApiResponseError | undefined)?.response?.statusCode === 'number';

function errorTexts(body: unknown): string[] {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  // A hostile or broken server could send thousands; ten say enough.
  return Array.isArray(errors) ? errors.filter((e): e is string => typeof e === 'string').slice(0, 10) : [];
}

function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined, path: string): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(vaultAbortedError(path));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(vaultAbortedError(path));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The address as messages show it: never with a user:password part. */
function shownAddress(address: string): string {
  const u = new URL(address);
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

export function createVaultClient(options: VaultClientOptions): VaultClient {
  const address = shownAddress(options.address);
  const vault = nodeVault({
    endpoint: options.address,
    // node-vault's debug output would print login bodies (secret IDs, JWTs) when DEBUG is set.
    debug: () => undefined,
    requestOptions: {
      timeout: options.timeoutMs,
      strictSSL: true,
      ...(options.caPem ? { ca: options.caPem } : {}),
    },
  });
  // node-vault falls back to VAULT_TOKEN / VAULT_NAMESPACE from process.env; we pass both explicitly, per call.
  vault.token = '';
  (vault as unknown as { namespace: string }).namespace = '';

  async function call(
    path: string,
    options_: VaultCallOptions,
    send: (requestOptions: Record<string, unknown>) => Promise<unknown>,
  ): Promise<VaultResponse> {
    const namespace = options_.namespace ?? options.namespace ?? '';
    const headers = {
      ...(options_.token ? { 'X-Vault-Token': options_.token } : {}),
      ...(namespace ? { 'X-Vault-Namespace': namespace } : {}),
    };
    let body: unknown;
    try {
      body = await raceAbort(send({ headers }), options_.signal, path);
    } catch (err) {
      if (isApiResponseError(err)) {
        throw vaultHttpError(options_.operation, path, err.response.statusCode, errorTexts(err.response.body));
      }
      if (isWcaError(err)) throw err;
      throw vaultTransportError(address, path, (err as { code?: string } | undefined)?.code, options.timeoutMs);
    }
    // 204 No Content (e.g. creating a Transit key) is a success without a body.
    if (body === '' || body === undefined) return {};
    if (typeof body !== 'object' || body === null) throw vaultBadResponse(path, 'answer is not a JSON object');
    return body as VaultResponse;
  }

  return {
    address,
    read: (path, o) => call(path, o, (ro) => vault.read(path, ro)),
    write: (path, body, o) => call(path, o, (ro) => vault.write(path, body, ro)),
  };
}
