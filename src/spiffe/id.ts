import { WcaError, type ReasonOf } from '../errors.js';
import { limits } from '../limits.js';

/** A parsed, normalised SPIFFE ID. */
export interface SpiffeId {
  readonly trustDomain: string;
  /** "" for a trust domain ID, else "/seg/seg". */
  readonly path: string;
  readonly uri: string;
}

/** What the parser can find wrong (the trust-domain-id reason is the CA's, not the parser's). */
export type SpiffeIdProblem = Exclude<ReasonOf<'ERR_SPIFFE_ID_INVALID'>, 'trust-domain-id'>;

const reasons: Record<SpiffeIdProblem, string> = {
  empty: 'is empty',
  'too-long': `is longer than ${limits.spiffeIdMaxBytes} bytes`,
  'wrong-scheme': 'must start with "spiffe://"',
  'scheme-not-lowercase': 'scheme must be lowercase "spiffe"',
  'missing-trust-domain': 'has no trust domain',
  'trust-domain-too-long': 'trust domain is longer than 255 characters',
  'trust-domain-chars': 'trust domain may contain only lowercase letters, digits, ".", "-" and "_"',
  port: 'must not contain a port',
  userinfo: 'must not contain user info',
  query: 'must not contain a query',
  fragment: 'must not contain a fragment',
  'empty-segment': 'path must not contain empty segments ("//")',
  'dot-segment': 'path must not contain "." or ".." segments',
  'trailing-slash': 'path must not end with "/"',
  'path-chars': 'path segments may contain only letters, digits, ".", "-" and "_"',
};

const TRUST_DOMAIN_CHARS = /^[a-z0-9._-]+$/;
const SEGMENT_CHARS = /^[a-zA-Z0-9._-]+$/;
const SCHEME = 'spiffe://';

/**
 * IDs come from remote callers: quote only something that is recognisably a
 * spiffe URI, and only a prefix, escaped, so an error can never echo arbitrary
 * input (a pasted key, a token) into logs.
 */
function quote(input: string): string {
  if (!/^spiffe:\/\//i.test(input)) return `(${input.length} characters, not a spiffe:// URI)`;
  return JSON.stringify(input.length > 128 ? `${input.slice(0, 128)}…` : input);
}

function fail(input: string, problem: SpiffeIdProblem): never {
  throw new WcaError('ERR_SPIFFE_ID_INVALID', `invalid SPIFFE ID ${quote(input)}: ${reasons[problem]}`, {
    details: { reason: problem },
  });
}

/** Validates a trust domain name (no scheme). */
export function parseTrustDomain(name: string): string {
  const bad = (problem: SpiffeIdProblem): never => {
    // Quoted only when it could be a hostname, for the same reason as quote().
    const shown = /^[A-Za-z0-9._:@-]{1,64}$/.test(name) ? `"${name}"` : `(${name.length} characters)`;
    throw new WcaError('ERR_SPIFFE_ID_INVALID', `invalid trust domain ${shown}: ${reasons[problem]}`, { details: { reason: problem } });
  };
  if (name.length === 0) bad('missing-trust-domain');
  if (name.length > 255) bad('trust-domain-too-long');
  if (name.includes('@')) bad('userinfo');
  if (name.includes(':')) bad('port');
  if (!TRUST_DOMAIN_CHARS.test(name)) bad('trust-domain-chars');
  return name;
}

/** Parses a SPIFFE ID per the SPIFFE-ID specification; throws ERR_SPIFFE_ID_INVALID naming the rule. */
export function parseSpiffeId(input: string): SpiffeId {
  if (typeof input !== 'string' || input.length === 0) fail(String(input ?? ''), 'empty');
  if (Buffer.byteLength(input, 'utf8') > limits.spiffeIdMaxBytes) fail(input, 'too-long');
  if (!input.startsWith(SCHEME)) {
    fail(input, input.toLowerCase().startsWith(SCHEME) ? 'scheme-not-lowercase' : 'wrong-scheme');
  }
  const rest = input.slice(SCHEME.length);
  if (rest.includes('#')) fail(input, 'fragment');
  if (rest.includes('?')) fail(input, 'query');
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  parseTrustDomainIn(input, authority);
  if (path.length > 0) {
    const segments = path.slice(1).split('/');
    segments.forEach((segment, i) => {
      if (segment.length === 0) fail(input, i === segments.length - 1 ? 'trailing-slash' : 'empty-segment');
      if (segment === '.' || segment === '..') fail(input, 'dot-segment');
      if (!SEGMENT_CHARS.test(segment)) fail(input, 'path-chars');
    });
  }
  return { trustDomain: authority, path, uri: input };
}

function parseTrustDomainIn(input: string, authority: string): void {
  if (authority.length === 0) fail(input, 'missing-trust-domain');
  if (authority.includes('@')) fail(input, 'userinfo');
  if (authority.includes(':')) fail(input, 'port');
  if (authority.length > 255) fail(input, 'trust-domain-too-long');
  if (!TRUST_DOMAIN_CHARS.test(authority)) fail(input, 'trust-domain-chars');
}

export function trustDomainId(trustDomain: string): string {
  return `${SCHEME}${parseTrustDomain(trustDomain)}`;
}

/** Parses and requires membership of the given trust domain. */
export function parseSpiffeIdIn(input: string, trustDomain: string): SpiffeId {
  const id = parseSpiffeId(input);
  if (id.trustDomain !== trustDomain) {
    throw new WcaError(
      'ERR_TRUST_DOMAIN_MISMATCH',
      `SPIFFE ID ${quote(id.uri)} is not in trust domain "${trustDomain}"`,
      { details: { trustDomain: id.trustDomain } },
    );
  }
  return id;
}
