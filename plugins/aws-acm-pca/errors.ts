/**
 * AWS SDK failures → typed WcaErrors. Messages name the operation and AWS's
 * error type and text (which name the problem and never contain credentials);
 * the SDK error object itself is not kept, as it carries the signed request.
 */
import { WcaError, type ErrorCode } from '../../src/upstream/sdk/errors.js';

const byAwsName: Record<string, ErrorCode> = {
  ThrottlingException: 'ERR_UPSTREAM_THROTTLED',
  TooManyRequestsException: 'ERR_UPSTREAM_THROTTLED',
  // A Private CA quota (e.g. certificates per CA) is used up: waiting at our scale does not help.
  LimitExceededException: 'ERR_UPSTREAM_THROTTLED',
  AccessDeniedException: 'ERR_UPSTREAM_DENIED',
  UnrecognizedClientException: 'ERR_UPSTREAM_AUTH',
  InvalidSignatureException: 'ERR_UPSTREAM_AUTH',
  InvalidClientTokenId: 'ERR_UPSTREAM_AUTH',
  ExpiredTokenException: 'ERR_UPSTREAM_AUTH',
  CredentialsProviderError: 'ERR_UPSTREAM_AUTH',
  ResourceNotFoundException: 'ERR_UPSTREAM_CONFIG',
  InvalidArnException: 'ERR_UPSTREAM_CONFIG',
  InvalidArgsException: 'ERR_UPSTREAM_CONFIG',
  InvalidRequestException: 'ERR_UPSTREAM_CONFIG',
  // Another change to the CA is in progress (RevokeCertificate): a later retry succeeds.
  ConcurrentModificationException: 'ERR_UPSTREAM_UNAVAILABLE',
  // The CA is disabled, expired or pending: the PCA owners have to act.
  InvalidStateException: 'ERR_UPSTREAM_UNAVAILABLE',
  MalformedCSRException: 'ERR_CSR_INVALID',
  RequestFailedException: 'ERR_UPSTREAM_UNAVAILABLE',
};

const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH']);

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

/** `address` is where the call went: a connection failure names it, as the operator has to check it. */
export function pcaError(operation: string, err: unknown, address: string): WcaError {
  const e = (err ?? {}) as SdkError;
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  let code: ErrorCode = byAwsName[name] ?? 'ERR_UPSTREAM_BAD_RESPONSE';
  if (!byAwsName[name]) {
    if ((status !== undefined && status >= 500) || e.$fault === 'server' || networkCodes.has(e.code ?? '')) code = 'ERR_UPSTREAM_UNAVAILABLE';
    else if (/region is missing/i.test(e.message ?? '')) code = 'ERR_UPSTREAM_CONFIG';
  }
  const text = (e.message ?? '').slice(0, 300);
  const unreachable = networkCodes.has(e.code ?? '');
  const message = unreachable ? `cannot reach ${address}: ${e.code}` : `${name}${text ? `: ${text}` : ''}`;
  return new WcaError(code, `aws-acm-pca: ${operation} failed: ${message}`, {
    details: { plugin: 'aws-acm-pca', operation, awsError: name, address, ...(status ? { status } : {}) },
  });
}

export function pcaTimeout(operation: string, ms: number): WcaError {
  return new WcaError('ERR_UPSTREAM_TIMEOUT', `aws-acm-pca: ${operation} got no answer within ${ms} ms`, {
    details: { plugin: 'aws-acm-pca', operation },
  });
}

export function pcaAborted(operation: string): WcaError {
  return new WcaError('ERR_UPSTREAM_TIMEOUT', `aws-acm-pca: ${operation} aborted`, { details: { plugin: 'aws-acm-pca', operation } });
}

export function pcaBadResponse(operation: string, problem: string): WcaError {
  return new WcaError('ERR_UPSTREAM_BAD_RESPONSE', `aws-acm-pca: ${operation}: ${problem}`, {
    details: { plugin: 'aws-acm-pca', operation },
  });
}

/** Throttling is worth a wait and another try (same idempotency token); other errors are not. */
export const isThrottling = (err: WcaError): boolean => err.details.awsError === 'ThrottlingException' || err.details.awsError === 'TooManyRequestsException';
