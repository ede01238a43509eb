/**
 * The UpstreamAuthority over AWS Private CA: IssueCertificate with the
 * subordinate-CA template and an absolute notAfter, then GetCertificate until
 * issued, then the chain split into intermediates and roots.
 *
 * Never a retry storm against a throttled, per-certificate-billed CA:
 * - one mint in flight per replica: concurrent calls for the same CSR share it,
 *   a different CSR waits for the current one to finish;
 * - IssueCertificate carries an idempotency token derived from the CSR, so a
 *   retry (ours, or the core's within AWS's five-minute window) never mints twice;
 * - throttling gets a bounded number of attempts with jittered exponential waits.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { splitChain } from '../../src/upstream/sdk/chain.js';
import { WcaError, isWcaError } from '../../src/upstream/sdk/errors.js';
import { colonHexSerial } from '../../src/upstream/sdk/serial.js';
import type { Schedule } from '../../src/upstream/sdk/schedule.js';
import type { MintRequest, MintResult, UpstreamAuthority } from '../../src/upstream/types.js';
import { backoffDelay, sleep } from './backoff.js';
import type { CertificateAndChain, PcaClient } from './client.js';
import type { BackoffConfig, PcaConfig } from './config.js';
import { isThrottling, pcaAborted, pcaBadResponse } from './errors.js';

export interface PcaDeps {
  client: PcaClient;
  now(): number;
  schedule: Schedule;
  logger: Logger;
}

/** ≤ 36 characters as the API requires; the same CSR always gives the same token. */
export function idempotencyToken(csrDer: Uint8Array): string {
  return createHash('sha256').update(csrDer).digest('hex').slice(0, 32);
}

export class PcaAuthority implements UpstreamAuthority {
  readonly name = 'aws-acm-pca';
  private readonly inflight = new Map<string, Promise<MintResult>>();
  /** Settles when the current mint does: the next one starts only then. */
  private tail: Promise<unknown> = Promise.resolve();
  private signingAlgorithm: string | undefined;
  /** Ends every call and wait on close(); a caller's own abort only ends its own wait. */
  private readonly lifetime = new AbortController();

  constructor(
    private readonly config: PcaConfig,
    private readonly deps: PcaDeps,
  ) {
    this.signingAlgorithm = config.signingAlgorithm;
  }

  mintIntermediate(request: MintRequest, signal?: AbortSignal): Promise<MintResult> {
    const token = idempotencyToken(request.csrDer);
    let mint = this.inflight.get(token);
    if (!mint) {
      mint = this.tail.then(() => this.mint(request, token)).finally(() => this.inflight.delete(token));
      this.inflight.set(token, mint);
      this.tail = mint.catch(() => undefined);
    }
    return waitFor(mint, signal);
  }

  async fetchRoots(signal?: AbortSignal): Promise<string[]> {
    const ca = await this.deps.client.getCaCertificate(this.config.certificateAuthorityArn, this.callSignal(signal));
    return this.rootsOf('GetCertificateAuthorityCertificate', ca);
  }

  /**
   * RevokeCertificate: AWS lists the serial in the CA's CRL (and OCSP answers). A
   * certificate revoked before (RequestAlreadyProcessedException) is not an error,
   * so an operator can repeat `authority revoke --upstream` safely. Throttling gets
   * the same small budget as IssueCertificate.
   */
  async revoke(serialHex: string, signal?: AbortSignal): Promise<void> {
    const input = { caArn: this.config.certificateAuthorityArn, serial: colonHexSerial(serialHex, 'aws-acm-pca'), reason: this.config.revocationReason };
    const outcome = await this.retryThrottled('RevokeCertificate', this.config.issue, () => this.deps.client.revokeCertificate(input, this.callSignal(signal)));
    this.deps.logger.info({ serial: input.serial, reason: input.reason, outcome }, outcome === 'already' ? 'certificate was already revoked' : 'certificate revoked');
  }

  /**
   * A real, signed DescribeCertificateAuthority (no issuance, nothing billed): AWS
   * answers it only for valid credentials allowed on this CA. A CA that is not
   * ACTIVE cannot issue, so that fails the check too.
   */
  async checkCredentials(signal?: AbortSignal): Promise<string> {
    const caArn = this.config.certificateAuthorityArn;
    const ca = await this.deps.client.describeCa(caArn, this.callSignal(signal));
    if (ca.status !== 'ACTIVE') {
      throw new WcaError('ERR_UPSTREAM_UNAVAILABLE', `aws-acm-pca: ${caArn} at ${this.deps.client.address} is ${ca.status ?? 'in no state'}, not ACTIVE: it cannot issue`, {
        details: { plugin: 'aws-acm-pca', status: ca.status ?? '' },
      });
    }
    return `DescribeCertificateAuthority accepted by ${this.deps.client.address}: ${caArn} is ACTIVE, signs with ${ca.signingAlgorithm ?? 'an unnamed algorithm'}`;
  }

  async close(): Promise<void> {
    this.lifetime.abort();
    this.deps.client.destroy();
  }

  private callSignal(signal?: AbortSignal): AbortSignal {
    return signal ? AbortSignal.any([signal, this.lifetime.signal]) : this.lifetime.signal;
  }

  private async mint(request: MintRequest, token: string): Promise<MintResult> {
    const { client, logger } = this.deps;
    const caArn = this.config.certificateAuthorityArn;
    const signal = this.lifetime.signal;
    const signingAlgorithm = await this.resolveSigningAlgorithm(signal);
    // Computed once: every attempt sends identical parameters under the same idempotency token.
    const notAfterEpochSeconds = Math.floor(this.deps.now() / 1000) + Math.floor(request.ttlSeconds);
    const input = { caArn, csrPem: request.csrPem, signingAlgorithm, templateArn: this.config.templateArn, notAfterEpochSeconds, idempotencyToken: token };

    const certificateArn = await this.retryThrottled('IssueCertificate', this.config.issue, () => client.issueCertificate(input, signal));
    logger.info({ certificateArn }, 'certificate requested, waiting for issuance');
    const issued = await this.pollIssued(certificateArn);
    const { chainPem, rootsPem } = splitChain(issued.chainPem ?? '', 'GetCertificate CertificateChain');
    const roots = rootsPem.length > 0 ? rootsPem : await this.fetchRoots();
    logger.info({ certificateArn }, 'certificate issued');
    return { certificatePem: issued.certificatePem, upstreamChainPem: chainPem, rootsPem: roots };
  }

  private async resolveSigningAlgorithm(signal: AbortSignal): Promise<string> {
    if (this.signingAlgorithm) return this.signingAlgorithm;
    const ca = await this.deps.client.describeCa(this.config.certificateAuthorityArn, signal);
    if (ca.status && ca.status !== 'ACTIVE') {
      this.deps.logger.warn({ status: ca.status }, 'the CA is not ACTIVE and cannot issue');
    }
    if (!ca.signingAlgorithm) throw pcaBadResponse('DescribeCertificateAuthority', 'answer has no SigningAlgorithm');
    this.deps.logger.info({ signingAlgorithm: ca.signingAlgorithm }, 'using the CA\'s signing algorithm');
    this.signingAlgorithm = ca.signingAlgorithm;
    return ca.signingAlgorithm;
  }

  /** Runs call; on throttling waits and tries again, at most config.maxAttempts calls in all. */
  private async retryThrottled<T>(operation: string, config: BackoffConfig, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        if (!isWcaError(err) || !isThrottling(err) || attempt >= config.maxAttempts) throw err;
        const delay = backoffDelay(config, attempt);
        this.deps.logger.warn({ operation, attempt, delayMs: delay }, 'throttled, backing off');
        await this.wait(operation, delay);
      }
    }
  }

  /** GetCertificate until issued; throttled polls count against the same budget. */
  private async pollIssued(certificateArn: string): Promise<CertificateAndChain> {
    const { poll } = this.config;
    for (let attempt = 1; attempt <= poll.maxAttempts; attempt++) {
      let issued: CertificateAndChain | undefined;
      try {
        issued = await this.deps.client.getCertificate(this.config.certificateAuthorityArn, certificateArn, this.lifetime.signal);
      } catch (err) {
        if (!isWcaError(err) || !isThrottling(err)) throw err;
      }
      if (issued) return issued;
      if (attempt < poll.maxAttempts) await this.wait('GetCertificate', backoffDelay(poll, attempt));
    }
    throw new WcaError(
      'ERR_UPSTREAM_TIMEOUT',
      `aws-acm-pca: certificate ${certificateArn} still not issued after ${poll.maxAttempts} GetCertificate polls; ` +
        'a retry with the same CSR within five minutes picks up this certificate',
      { details: { certificateArn } },
    );
  }

  private wait(operation: string, ms: number): Promise<void> {
    return sleep(this.deps.schedule, ms, this.lifetime.signal, () => pcaAborted(operation));
  }

  private rootsOf(operation: string, ca: CertificateAndChain): string[] {
    const { rootsPem } = splitChain([ca.certificatePem, ca.chainPem ?? ''], `aws-acm-pca: ${operation}`);
    if (rootsPem.length === 0) {
      throw new WcaError('ERR_UPSTREAM_CHAIN', `aws-acm-pca: ${operation} returned a chain that does not reach a self-signed root`, {
        details: { operation },
      });
    }
    return rootsPem;
  }
}

/** The caller's view of a shared mint: its own abort ends its own wait, not the mint. */
function waitFor<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(pcaAborted('mint'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(pcaAborted('mint'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
