/**
 * Text that may hold what a terminal or a log line would act on: control characters
 * (ESC), line breaks, bidi overrides. Below every layer, so a schema message that
 * quotes a bad value can show it safely.
 */
// Controls, line and paragraph separators, bidi overrides, lone surrogates: anything that rewrites how a log line reads.
const unsafe = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Every character that could forge or hide what a log line or a terminal shows, written as a \uXXXX escape (ESC included, so no escape sequence survives). */
export function escapeUnsafe(text: string): string {
  return text.replace(unsafe, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Whether escapeUnsafe would change `text`. */
export function hasUnsafe(text: string): boolean {
  return text.search(unsafe) !== -1;
}

/**
 * A value someone gave (flag, variable, config entry) as an error quotes it: cut to
 * `maxChars` (a pasted secret or a megabyte of junk is not echoed whole), escaped.
 */
export function shownValue(value: string, maxChars = 32): string {
  return escapeUnsafe(value.length > maxChars ? `${value.slice(0, maxChars)}…` : value);
}
