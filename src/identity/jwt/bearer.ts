import { WcaError, type ReasonOf } from '../../errors.js';
import { limits } from '../../limits.js';

/**
 * Join tokens carry this prefix so one `authorization: Bearer` header serves both
 * JWTs and join tokens without ambiguity (a JWT always starts with "eyJ").
 */
export const JOIN_TOKEN_PREFIX = 'wcajt_';

export interface Bearer {
  kind: 'jwt' | 'join-token';
  token: string;
}

const BEARER = /^Bearer +([A-Za-z0-9._~+/=-]+)$/i;

/** The bearer credential in gRPC metadata, or null when there is none. Size is checked before anything else. */
export function readBearer(metadata: ReadonlyMap<string, readonly string[]>): Bearer | null {
  const values = metadata.get('authorization');
  if (values === undefined || values.length === 0) return null;
  if (values.length > 1) unauthenticated('more than one authorization metadata value', 'multiple');
  const value = values[0]!;
  if (value.length > limits.jwtMaxBytes + 'Bearer '.length) {
    unauthenticated(`bearer token is larger than ${limits.jwtMaxBytes} bytes`, 'too-large');
  }
  const m = BEARER.exec(value);
  if (!m) unauthenticated('authorization metadata must be "Bearer <token>"', 'not-bearer');
  const token = m[1]!;
  return { kind: token.startsWith(JOIN_TOKEN_PREFIX) ? 'join-token' : 'jwt', token };
}

function unauthenticated(message: string, reason: ReasonOf<'ERR_UNAUTHENTICATED'>): never {
  throw new WcaError('ERR_UNAUTHENTICATED', message, { details: { reason } });
}
