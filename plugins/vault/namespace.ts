/**
 * Proves the configured namespace is real before anything is sent into it.
 * Vault Community Edition ignores X-Vault-Namespace and answers from the root
 * namespace, so a typo or the wrong edition would otherwise mint from whatever
 * PKI mount the root namespace has. Two unauthenticated reads decide it: a
 * namespace that cannot exist must be refused (else the header is ignored), and
 * ours must not be refused the same way (else it does not exist).
 */
import { randomBytes } from 'node:crypto';
import { isWcaError, WcaError } from '../../src/upstream/sdk/errors.js';
import type { VaultClient } from './client.js';

/** Unauthenticated in Vault and OpenBao, and resolved inside the request's namespace. */
const PROBE_PATH = 'sys/internal/ui/mounts';

type Answer = { ok: true } | { ok: false; status: unknown; message: string };

async function answerIn(client: VaultClient, namespace: string, signal?: AbortSignal): Promise<Answer> {
  try {
    await client.read(PROBE_PATH, { operation: 'pki', namespace, signal });
    return { ok: true };
  } catch (err) {
    // No HTTP answer at all says nothing about namespaces: report the transport problem.
    if (!isWcaError(err) || err.details.status === undefined) throw err;
    return { ok: false, status: err.details.status, message: err.message };
  }
}

export async function verifyNamespace(client: VaultClient, namespace: string, signal?: AbortSignal): Promise<void> {
  const details = { plugin: 'vault', address: client.address, namespace };
  const absent = `${namespace}/wca-absent-${randomBytes(6).toString('hex')}`;
  const refusal = await answerIn(client, absent, signal);
  if (refusal.ok) {
    throw new WcaError(
      'ERR_UPSTREAM_CONFIG',
      `vault: ${client.address} answered in namespace "${absent}", which does not exist: it ignores X-Vault-Namespace ` +
        '(Vault Community Edition has no namespaces); remove config.namespace or use a Vault with namespaces',
      { details: { ...details, reason: 'namespace-ignored' } },
    );
  }
  const ours = await answerIn(client, namespace, signal);
  if (!ours.ok && ours.status === refusal.status) {
    throw new WcaError('ERR_UPSTREAM_CONFIG', `vault: config.namespace "${namespace}" does not exist at ${client.address} (${ours.message})`, {
      details: { ...details, reason: 'namespace-missing' },
    });
  }
}
