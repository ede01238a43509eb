import { z } from 'zod';
import { duration } from '../duration.js';
import { limits } from '../limits.js';

const postgresSchema = z
  .object({
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
      .optional()
      .describe('Connection URL (`postgres://user@host:5432/db?sslmode=...`); instead of host/port/database/user. Never logged; prefer passwordFile or PGPASSWORD to a password in it.'),
    host: z.string().min(1).optional().describe('Host name, IP address, or the directory of a Unix socket (an absolute path).'),
    port: z.number().int().min(1).max(65535).default(5432).describe('TCP port (or the socket file suffix for a Unix socket directory).'),
    database: z.string().min(1).optional().describe('Database name.'),
    user: z.string().min(1).optional().describe('Role to connect as.'),
    passwordFile: z.string().min(1).optional().describe('File holding the password (one line); otherwise the environment variable PGPASSWORD, if set.'),
    tls: z
      .object({
        ca: z.string().min(1).describe('PEM file of the CA(s) that sign the database server certificate; the server name is verified.'),
        cert: z.string().min(1).optional().describe('PEM client certificate, for databases that authenticate clients by certificate.'),
        key: z.string().min(1).optional().describe('PEM private key of the client certificate.'),
      })
      .strict()
      .refine((t) => (t.cert === undefined) === (t.key === undefined), { message: 'cert and key go together' })
      .optional()
      .describe('TLS to the database (verify-full). Unset: plaintext, for a Unix socket or a trusted network only.'),
    statementTimeout: duration
      .pipe(z.number().min(0.1).max(60))
      .default(2)
      .describe('Deadline of every query, enforced by the server (statement_timeout) and by the client 0.25 s later: no SDS request waits longer on the database.'),
    poolMax: z.number().int().min(2).max(limits.statePoolMax).default(10).describe('Most connections in the pool (one more is held for LISTEN).'),
    heartbeatInterval: duration
      .pipe(z.number().min(1).max(300))
      .default(10)
      .describe('How often this replica records itself as alive; it counts as gone after three intervals without one.'),
  })
  .strict()
  .refine((p) => (p.url === undefined) !== (p.host === undefined), { message: 'set either url or host (with port, database, user), not both' });

/** The `state:` section: where what replicas share lives. Owned by src/state/. */
export const stateConfigSchema = z
  .object({
    store: z
      .enum(['memory', 'postgres'])
      .default('memory')
      .describe('memory: this process alone (one replica). postgres: join tokens, authority actions and membership shared by every replica (docs/replicas.md).'),
    postgres: postgresSchema.optional().describe('The PostgreSQL database, for store: postgres.'),
  })
  .strict()
  .refine((s) => s.store !== 'postgres' || s.postgres !== undefined, { path: ['postgres'], message: 'is required when store is postgres' })
  .prefault({})
  .describe('Shared state for several replicas (docs/replicas.md).');

export type StateConfig = z.infer<typeof stateConfigSchema>;
export type PostgresConfig = z.infer<typeof postgresSchema>;
