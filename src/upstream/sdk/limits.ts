/** For plugins: the process-wide hard limits (see src/limits.ts), so a backend's answers are bounded like every other input. */
export { limits } from '../../limits.js';
