/** For plugins: text a backend sent, made fit for a log line or an error message (see src/telemetry/untrusted-text.ts). */
export { untrustedText } from '../../telemetry/untrusted-text.js';
