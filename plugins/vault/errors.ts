/**
 * Vault answers and transport failures → typed WcaErrors. Messages carry Vault's
 * own `errors` text (made one line) and the path, which name the problem for the
 * operator; they never carry a token, secret ID or JWT (those only travel in
 * headers and login bodies, which nothing here reads).
 */
import { WcaError, type ErrorCode } from '../../src/upstream/sdk/errors.js';
import { untrustedText } from '../../src/upstream/sdk/untrusted-text.js';

/** What the failed request was for: login failures are authentication problems. */
export type VaultOperation = 'login' | 'token' | 'pki';

/** Longest Vault error text kept in a message: the body comes from the network. */
const maxErrorTextChars = 500;

/**
 * Vault wraps errors from its Go multierror as "1 error occurred:\n\t* text\n\n";
 * an operator reads one line, so the wrapper goes and several items join with "; ".
 */
export function oneLine(text: string): string {
  const items = text
    .replace(/^\s*\d+ errors? occurred:\s*/, '')
    .split(/\n\s*\*\s*/)
    .map((s) => s.replace(/\s+/g, ' ').trim().replace(/^\* /, ''))
    .filter((s) => s !== '');
  // The text comes from the network: terminal escapes and key-like runs never reach a terminal or log.
  return untrustedText(items.join('; '), maxErrorTextChars);
}

/** Shortest sent value removed from echoed texts: shorter ones (a role name) are not secrets. */
const minSecretChars = 8;

/** `text` (from Vault) with every occurrence of what we sent it as a secret replaced. */
export function withoutSecrets(text: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s.length >= minSecretChars).reduce((t, s) => t.split(s).join('[redacted]'), text);
}

/** A non-2xx answer from Vault. */
export function vaultHttpError(operation: VaultOperation, path: string, status: number, errors: string[]): WcaError {
  const texts = errors.map(oneLine).filter((t) => t !== '');
  const code = codeForStatus(operation, status, texts);
  const text = texts.length > 0 ? texts.join('; ') : 'no error text';
  return new WcaError(code, `vault: ${path} returned HTTP ${status}: ${text}`, {
    details: { plugin: 'vault', path, status, errors: texts },
  });
}

/** Vault answers 500 for an issuer reference that names no issuer; the config is wrong, not Vault. */
const unknownIssuer = /unable to find PKI issuer for reference/;

function codeForStatus(operation: VaultOperation, status: number, texts: string[]): ErrorCode {
  // Vault answers 400/403 for a bad secret ID, JWT or token on login and lookup.
  if (operation !== 'pki' && (status === 400 || status === 401 || status === 403)) return 'ERR_UPSTREAM_AUTH';
  if (status === 403) return 'ERR_UPSTREAM_DENIED';
  if (status === 429) return 'ERR_UPSTREAM_THROTTLED';
  if (texts.some((t) => unknownIssuer.test(t))) return 'ERR_UPSTREAM_CONFIG';
  // 400: Vault refused what we asked for (TTL or CN not allowed): fix the config.
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
 * A request that got no HTTP answer, naming the Vault address it went to. Only
 * the error's code and our own words are used: the client library's error
 * object holds the request headers (X-Vault-Token), so it is never kept as
 * `cause` or logged.
 */
export function vaultTransportError(address: string, path: string, code: string | undefined): WcaError {
  const details = { plugin: 'vault', address, path, code };
  if (code === 'ETIMEDOUT') return new WcaError('ERR_UPSTREAM_TIMEOUT', `vault: ${path} at ${address}: connection timed out`, { details });
  if (code && tlsCodes.has(code)) {
    return new WcaError('ERR_UPSTREAM_UNAVAILABLE', `vault: TLS verification of Vault at ${address} failed (${code}); check caFile and address`, {
      details,
    });
  }
  return new WcaError('ERR_UPSTREAM_UNAVAILABLE', `vault: cannot reach Vault at ${address} for ${path}: ${code ?? 'connection error'}`, { details });
}

/** The call's total deadline (requestTimeoutMs) passed; the socket has been destroyed. */
export function vaultTimeoutError(address: string, path: string, timeoutMs: number): WcaError {
  return new WcaError('ERR_UPSTREAM_TIMEOUT', `vault: ${path} at ${address} got no answer within ${timeoutMs} ms`, {
    details: { plugin: 'vault', address, path, timeoutMs },
  });
}

export function vaultAbortedError(path: string): WcaError {
  return new WcaError('ERR_UPSTREAM_TIMEOUT', `vault: ${path} aborted by the caller`, { details: { plugin: 'vault', path } });
}

export function vaultBadResponse(path: string, problem: string): WcaError {
  return new WcaError('ERR_UPSTREAM_BAD_RESPONSE', `vault: ${path}: ${problem}`, { details: { plugin: 'vault', path } });
}
