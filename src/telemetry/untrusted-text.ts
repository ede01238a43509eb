import { escapeUnsafe } from '../unsafe-text.js';

// Key material a client might echo back: PEM blocks (cut ones too) and long base64 or hex runs.
const pemBlock = /-----BEGIN[^\n]*?-----[\s\S]*?(?:-----END[^\n]*?-----|$)/g;
const longEncodedRun = /[A-Za-z0-9+/=_-]{40,}/g;
/**
 * 40+ base64 characters of random bytes mix cases (a run without both is ~1e-9 likely);
 * hex is all hex digits. Kubernetes names and SPIFFE paths are lower case, so a
 * long `ns/…/sa/…` stays readable.
 */
const looksEncoded = (run: string) => /^[0-9a-fA-F]+$/.test(run) || (/[A-Z]/.test(run) && /[a-z]/.test(run));

/**
 * Text a client sent, made fit for a log line: key-like material redacted, then
 * cut to `maxChars`, then every character that could forge or hide log content
 * written as a \uXXXX escape.
 */
export function untrustedText(text: string, maxChars: number): string {
  const redacted = text.replace(pemBlock, '[PEM redacted]').replace(longEncodedRun, (run) => (looksEncoded(run) ? '[redacted]' : run));
  const cut = redacted.length > maxChars ? `${redacted.slice(0, maxChars)}…` : redacted;
  return escapeUnsafe(cut);
}
