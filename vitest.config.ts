import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // @peculiar/x509 (tsyringe) needs the Reflect metadata polyfill loaded first, as every entry point does.
    setupFiles: ['reflect-metadata'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Worker threads and real sockets: forks keep native addons (pkcs11js) isolated per file.
    pool: 'forks',
  },
});
