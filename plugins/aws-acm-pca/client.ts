/**
 * The only file that touches @aws-sdk/client-acm-pca: the five calls the plugin
 * makes, each with a per-call timeout, answers as plain values, failures as
 * WcaErrors. The SDK's own retries are off (maxAttempts 1): the plugin's retry
 * budget is the only one, so the calls a throttled CA sees can be counted.
 */
import { isWcaError } from '../../src/upstream/sdk/errors.js';
import { importOptional } from '../../src/upstream/sdk/optional.js';
import { pcaAborted, pcaBadResponse, pcaError, pcaTimeout } from './errors.js';

const {
  ACMPCAClient,
  DescribeCertificateAuthorityCommand,
  GetCertificateAuthorityCertificateCommand,
  GetCertificateCommand,
  IssueCertificateCommand,
  RevokeCertificateCommand,
} = await importOptional('aws-acm-pca', '@aws-sdk/client-acm-pca', () => import('@aws-sdk/client-acm-pca'));

export interface IssueInput {
  caArn: string;
  csrPem: string;
  signingAlgorithm: string;
  templateArn: string;
  notAfterEpochSeconds: number;
  idempotencyToken: string;
}

export interface RevokeInput {
  caArn: string;
  /** Colon-separated hex octets, as AWS documents CertificateSerial. */
  serial: string;
  reason: string;
}

export interface CertificateAndChain {
  certificatePem: string;
  /** Concatenated PEM, issuer first and root last; absent for a root CA's own certificate. */
  chainPem?: string;
}

export interface PcaClient {
  /** The endpoint the calls go to, for messages: the configured one, else AWS's regional endpoint. */
  readonly address: string;
  issueCertificate(input: IssueInput, signal: AbortSignal): Promise<string>;
  /** undefined while AWS still answers RequestInProgressException. */
  getCertificate(caArn: string, certificateArn: string, signal: AbortSignal): Promise<CertificateAndChain | undefined>;
  getCaCertificate(caArn: string, signal: AbortSignal): Promise<CertificateAndChain>;
  describeCa(caArn: string, signal: AbortSignal): Promise<{ status?: string; signingAlgorithm?: string }>;
  /** 'already' when AWS answers RequestAlreadyProcessedException: the certificate was revoked before. */
  revokeCertificate(input: RevokeInput, signal: AbortSignal): Promise<'revoked' | 'already'>;
  destroy(): void;
}

export interface PcaClientOptions {
  region?: string;
  endpoint?: string;
  requestTimeoutMs: number;
}

export function createPcaClient(options: PcaClientOptions): PcaClient {
  const address = options.endpoint ?? (options.region ? `https://acm-pca.${options.region}.amazonaws.com` : 'AWS Private CA (region from the environment)');
  const sdk = new ACMPCAClient({
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    maxAttempts: 1,
  });

  async function send<T>(operation: string, signal: AbortSignal, call: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    const timeout = AbortSignal.timeout(options.requestTimeoutMs);
    try {
      return await call(AbortSignal.any([signal, timeout]));
    } catch (err) {
      if (isWcaError(err)) throw err;
      if (signal.aborted) throw pcaAborted(operation);
      if (timeout.aborted) throw pcaTimeout(operation, options.requestTimeoutMs);
      throw pcaError(operation, err, address);
    }
  }

  const certificateAndChain = (operation: string, out: { Certificate?: string; CertificateChain?: string }): CertificateAndChain => {
    if (!out.Certificate) throw pcaBadResponse(operation, 'answer has no Certificate');
    return { certificatePem: out.Certificate, ...(out.CertificateChain ? { chainPem: out.CertificateChain } : {}) };
  };

  return {
    address,
    issueCertificate: (input, signal) =>
      send('IssueCertificate', signal, async (abortSignal) => {
        const out = await sdk.send(
          new IssueCertificateCommand({
            CertificateAuthorityArn: input.caArn,
            Csr: new TextEncoder().encode(input.csrPem),
            SigningAlgorithm: input.signingAlgorithm as never,
            TemplateArn: input.templateArn,
            Validity: { Type: 'ABSOLUTE', Value: input.notAfterEpochSeconds },
            IdempotencyToken: input.idempotencyToken,
          }),
          { abortSignal },
        );
        if (!out.CertificateArn) throw pcaBadResponse('IssueCertificate', 'answer has no CertificateArn');
        return out.CertificateArn;
      }),

    getCertificate: (caArn, certificateArn, signal) =>
      send('GetCertificate', signal, async (abortSignal) => {
        try {
          const out = await sdk.send(new GetCertificateCommand({ CertificateAuthorityArn: caArn, CertificateArn: certificateArn }), { abortSignal });
          return certificateAndChain('GetCertificate', out);
        } catch (err) {
          if ((err as Error).name === 'RequestInProgressException') return undefined;
          throw err;
        }
      }),

    getCaCertificate: (caArn, signal) =>
      send('GetCertificateAuthorityCertificate', signal, async (abortSignal) =>
        certificateAndChain(
          'GetCertificateAuthorityCertificate',
          await sdk.send(new GetCertificateAuthorityCertificateCommand({ CertificateAuthorityArn: caArn }), { abortSignal }),
        ),
      ),

    describeCa: (caArn, signal) =>
      send('DescribeCertificateAuthority', signal, async (abortSignal) => {
        const out = await sdk.send(new DescribeCertificateAuthorityCommand({ CertificateAuthorityArn: caArn }), { abortSignal });
        const ca = out.CertificateAuthority;
        return { status: ca?.Status, signingAlgorithm: ca?.CertificateAuthorityConfiguration?.SigningAlgorithm };
      }),

    revokeCertificate: (input, signal) =>
      send('RevokeCertificate', signal, async (abortSignal) => {
        try {
          await sdk.send(
            new RevokeCertificateCommand({ CertificateAuthorityArn: input.caArn, CertificateSerial: input.serial, RevocationReason: input.reason as never }),
            { abortSignal },
          );
          return 'revoked' as const;
        } catch (err) {
          if ((err as Error).name === 'RequestAlreadyProcessedException') return 'already' as const;
          throw err;
        }
      }),

    destroy: () => sdk.destroy(),
  };
}
