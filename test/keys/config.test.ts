import { describe, it, expect } from 'vitest';
import { configSchema } from '../../src/config/schema.js';

const transit = { type: 'vault-transit', address: 'https://vault:8200', auth: { method: 'token' } };
const problems = (input: unknown) => {
  const r = configSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('ca.keyManager config', () => {
  it('defaults to the in-memory key manager', () => {
    expect(configSchema.parse({}).ca.keyManager).toEqual({ type: 'memory' });
  });

  it('takes vault-transit with defaults for mount, key name and batching', () => {
    const km = configSchema.parse({ ca: { keyManager: transit } }).ca.keyManager;
    expect(km).toMatchObject({ type: 'vault-transit', mount: 'transit', keyName: 'workload-ca', batch: { maxSize: 256, maxDelayMs: 2, maxInFlight: 4 }, trim: true });
  });

  it.each([
    { name: 'a key type Transit does not hold here', input: { ca: { keyType: 'rsa-2048', keyManager: transit } }, path: 'ca.keyType' },
    { name: 'no address', input: { ca: { keyManager: { ...transit, address: undefined } } }, path: 'ca.keyManager.address' },
    { name: 'a key name that could escape its path', input: { ca: { keyManager: { ...transit, keyName: '../sys' } } }, path: 'ca.keyManager.keyName' },
    { name: 'a batch above the hard limit', input: { ca: { keyManager: { ...transit, batch: { maxSize: 100_000 } } } }, path: 'ca.keyManager.batch.maxSize' },
    { name: 'an unknown key manager', input: { ca: { keyManager: { type: 'aws-kms' } } }, path: 'ca.keyManager.type' },
  ])('rejects $name, naming $path', ({ input, path }) => {
    expect(problems(input).some((p) => p.startsWith(`${path}:`))).toBe(true);
  });
});
