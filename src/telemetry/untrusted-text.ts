// Key material a client might echo back: PEM blocks (cut ones too) and long base64 or hex runs.
const pemBlock = /-----BEGIN[^\n]*?-----[\s\S]*?(?:-----END[^\n]*?-----|$)/g;
const longEncodedRun = /[A-Za-z0-9+/=_-]{40,}/g;
/**
 * 40+ base64 characters of random bytes mix cases (a run without both is ~1e-9 likely);
 * hex is all hex digits. Kubernetes names and SPIFFE paths are lower case, so a
 * long `ns/…/sa/…` stays readable.
 */
const looksEncoded = (run: string) => /^[0-9a-fA-F]+$/.test(run) || (/[A-Z]/.test(run) && /[a-z]/.test(run));
// Controls, line and paragraph separators, bidi overrides, lone surrogates: anything that rewrites how a log line reads.
const unsafe = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

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

/** Every character that could forge or hide what a log line or a terminal shows, written as a \uXXXX escape (ESC included, so no escape sequence survives). */
export function escapeUnsafe(text: string): string {
  return text.replace(unsafe, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Whether escapeUnsafe would change `text`. */
export function hasUnsafe(text: string): boolean {
  return text.search(unsafe) !== -1;
}
