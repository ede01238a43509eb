/** For plugins: the process-wide retry backoff (see src/backoff.ts). */
export { backoffMs } from '../../backoff.js';
