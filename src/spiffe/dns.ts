import { WcaError } from '../errors.js';
import { limits } from '../limits.js';

const LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/**
 * Validates a DNS SAN (RFC 1035 preferred syntax, RFC 6125 wildcard in the
 * leftmost label only) and returns it lower-cased.
 */
export function parseDnsName(input: string): string {
  const bad = (why: string): never => {
    // Names come from callers: quote only what could be a hostname, cut short, so an
    // error never echoes arbitrary input (a pasted key, a token) into logs.
    const text = String(input);
    const shown = /^[A-Za-z0-9.*_-]{1,80}$/.test(text) ? `"${text}"` : `(${text.length} characters)`;
    throw new WcaError('ERR_DNS_NAME_INVALID', `invalid DNS name ${shown}: ${why}`);
  };
  if (typeof input !== 'string' || input.length === 0) bad('is empty');
  if (input.length > limits.dnsNameMaxLength) bad(`is longer than ${limits.dnsNameMaxLength} characters`);
  const name = input.toLowerCase();
  if (name.endsWith('.')) bad('must not end with "."');
  const labels = name.split('.');
  labels.forEach((label, i) => {
    if (label === '*' && i === 0 && labels.length > 2) return;
    if (label.includes('*')) bad('a wildcard is allowed only as the whole leftmost label of a name with at least two more labels');
    if (label.length === 0) bad('has an empty label');
    if (label.length > limits.dnsLabelMaxLength) bad(`has a label longer than ${limits.dnsLabelMaxLength} characters`);
    if (!LABEL.test(label)) bad('labels may contain only letters, digits and inner hyphens');
  });
  return name;
}

export function parseDnsNames(names: readonly string[] | undefined): string[] {
  if (names === undefined) return [];
  if (names.length > limits.dnsNamesPerCert) {
    throw new WcaError('ERR_DNS_NAME_INVALID', `too many DNS names: ${names.length} (limit ${limits.dnsNamesPerCert})`);
  }
  return [...new Set(names.map(parseDnsName))];
}
