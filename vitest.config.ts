import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Worker threads and real sockets: forks keep native addons (pkcs11js) isolated per file.
    pool: 'forks',
  },
});
