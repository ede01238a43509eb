/**
 * Vault answers and transport failures → typed WcaErrors. Messages carry Vault's
 * own `errors` text and the path, which name the problem for the operator; they
 * never carry a token, secret ID or JWT (those only travel in headers and login
 * bodies, which nothing here reads).
 */
import { WcaError, type ErrorCode } from '../../src/upstream/sdk/errors.js';

/** What the failed request was for: login failures are authentication problems. */
export type VaultOperation = 'login' | 'token' | 'pki';

/** A non-2xx answer from Vault. */
export function vaultHttpError(operation: VaultOperation, path: string, status: number, errors: string[]): WcaError {
  const code = codeForStatus(operation, status);
  const text = errors.length > 0 ? errors.join('; ') : 'no error text';
  return new WcaError(code, `vault: ${path} returned HTTP ${status}: ${text}`, {
    details: { plugin: 'vault', path, status, errors },
  });
}

function codeForStatus(operation: VaultOperation, status: number): ErrorCode {
  // Vault answers 400/403 for a bad secret ID, JWT or token on login and lookup.
  if (operation !== 'pki' && (status === 400 || status === 401 || status === 403)) return 'ERR_UPSTREAM_AUTH';
  if (status === 403) return 'ERR_UPSTREAM_DENIED';
  if (status === 429) return 'ERR_UPSTREAM_THROTTLED';
  // 400: Vault refused what we asked for (unknown issuer, TTL or CN not allowed): fix the config.
  // 404: no such mount or route.
  if (status === 400 || status === 404) return 'ERR_UPSTREAM_CONFIG';
  if (status >= 500 || status === 412) return 'ERR_UPSTREAM_UNAVAILABLE';
  return 'ERR_UPSTREAM_BAD_RESPONSE';
}

const tlsCodes = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A request that got no HTTP answer. Only the error's code and our own words
 * are used: the client library's error object holds the request headers
 * (X-Vault-Token), so it is never kept as `cause` or logged.
 */
export function vaultTransportError(path: string, code: string | undefined, timeoutMs: number): WcaError {
  const details = { plugin: 'vault', path, code };
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT') {
    return new WcaError('ERR_UPSTREAM_TIMEOUT', `vault: ${path} got no answer within ${timeoutMs} ms`, { details });
  }
  if (code && tlsCodes.has(code)) {
    return new WcaError('ERR_UPSTREAM_UNAVAILABLE', `vault: TLS verification of Vault failed (${code}); check caFile and address`, {
      details,
    });
  }
  return new WcaError('ERR_UPSTREAM_UNAVAILABLE', `vault: ${path} failed: ${code ?? 'connection error'}`, { details });
}

export function vaultAbortedError(path: string): WcaError {
  return new WcaError('ERR_UPSTREAM_TIMEOUT', `vault: ${path} aborted by the caller`, { details: { plugin: 'vault', path } });
}

export function vaultBadResponse(path: string, problem: string): WcaError {
  return new WcaError('ERR_UPSTREAM_BAD_RESPONSE', `vault: ${path}: ${problem}`, { details: { plugin: 'vault', path } });
}
