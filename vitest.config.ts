import { defineConfig } from 'vitest/config';

/**
 * Suites that need a process of their own: pkcs11js and SoftHSM keep process-wide state from
 * C_Initialize on, and sharing a worker with other files the HSM suite twice found a token
 * directory other than the one it made.
 */
const ownProcess = ['test/plugins/pkcs11/pkcs11.test.ts'];

export default defineConfig({
  test: {
    // @peculiar/x509 (tsyringe) needs the Reflect metadata polyfill loaded first, as every entry point does.
    setupFiles: ['reflect-metadata', 'test/setup/file-scope.ts', 'test/setup/signer-threads.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Worker processes, not threads: native addons (pkcs11js) and process-wide state stay out of the runner.
    pool: 'forks',
    // Most suites wait on sockets, timers and child processes rather than compute, so a third
    // worker overlaps those waits on two cores.
    maxWorkers: 3,
    projects: [
      {
        extends: true,
        // Files share a worker's module cache (importing grpc-js, x509 and the CA once per worker,
        // not once per file, saved a third of the run); test/setup/file-scope.ts puts back what a
        // file changes in the process.
        test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ownProcess, isolate: false },
      },
      { extends: true, test: { name: 'isolated', include: ownProcess, isolate: true } },
    ],
  },
});
