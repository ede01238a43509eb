/**
 * Signer threads started by in-process suites run the test build of signer-worker.ts
 * (test/global-setup.ts makes it from the same sources) instead of loading tsx in
 * every thread: about 0.2 s of CPU per thread, and the suites start some 170 of them.
 */
import { pathToFileURL } from 'node:url';
import { useSignerWorkerModule } from '../../src/ca/signer-pool.js';
import { builtPath, repoRoot } from '../helpers/test-build.js';

useSignerWorkerModule(pathToFileURL(builtPath(`${repoRoot}/src/ca/signer-worker.ts`)));
