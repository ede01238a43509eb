/**
 * The aws-acm-pca plugin's configuration: one zod schema (errors carry the field
 * path) with the defaults spelled out. Credentials never appear here: the AWS
 * SDK's default chain finds them (environment, shared files, IRSA, IMDS).
 *
 * Retry budget, deliberately small: AWS Private CA's IssueCertificate quota is
 * about 25 calls per second per account and region and every issued certificate
 * is billed, so at most `issue.maxAttempts` IssueCertificate calls per mint
 * (all with the same idempotency token) and jittered exponential waits between.
 */
import { z } from 'zod';

export const defaultTemplateArn = 'arn:aws:acm-pca:::template/SubordinateCACertificate_PathLen0/V1';

const signingAlgorithms = [
  'SHA256WITHECDSA',
  'SHA384WITHECDSA',
  'SHA512WITHECDSA',
  'SHA256WITHRSA',
  'SHA384WITHRSA',
  'SHA512WITHRSA',
] as const;

/** RevokeCertificate's RevocationReason values (RFC 5280 CRLReason), as the AWS API Reference lists them. */
export const revocationReasons = [
  'UNSPECIFIED',
  'KEY_COMPROMISE',
  'CERTIFICATE_AUTHORITY_COMPROMISE',
  'AFFILIATION_CHANGED',
  'SUPERSEDED',
  'CESSATION_OF_OPERATION',
  'PRIVILEGE_WITHDRAWN',
  'A_A_COMPROMISE',
] as const;

const backoff = (initialMs: number, maxMs: number, maxAttempts: number) =>
  z
    .object({
      initialDelayMs: z.number().int().min(1).max(60_000).default(initialMs),
      maxDelayMs: z.number().int().min(1).max(300_000).default(maxMs),
      maxAttempts: z.number().int().min(1).max(100).default(maxAttempts),
    })
    .strict()
    .refine((b) => b.maxDelayMs >= b.initialDelayMs, { message: 'maxDelayMs must be at least initialDelayMs', path: ['maxDelayMs'] })
    .prefault({});

export const pcaConfigSchema = z
  .object({
    certificateAuthorityArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:acm-pca:[a-z0-9-]+:\d{12}:certificate-authority\/[0-9a-f-]{36}$/, 'must be an AWS Private CA ARN (arn:aws:acm-pca:<region>:<account>:certificate-authority/<id>)'),
    /** Otherwise the SDK's default chain (AWS_REGION, shared config); it should match the CA ARN's region. */
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1').optional(),
    /** Override the service endpoint (VPC endpoints, FIPS, tests). */
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    /** Defaults to the signing algorithm configured on the CA (DescribeCertificateAuthority). */
    signingAlgorithm: z.enum(signingAlgorithms).optional(),
    templateArn: z.string().regex(/^arn:aws[a-z-]*:acm-pca:::template\/[A-Za-z0-9_]+\/V\d+$/, 'must be an AWS Private CA template ARN').default(defaultTemplateArn),
    /** Per HTTP call; a call that takes longer is abandoned with ERR_UPSTREAM_TIMEOUT. */
    requestTimeoutMs: z.number().int().min(100).max(300_000).default(10_000),
    /** IssueCertificate attempts when throttled. */
    issue: backoff(1_000, 20_000, 3),
    /** GetCertificate polls while the certificate is still being issued. */
    poll: backoff(500, 5_000, 30),
    /**
     * The reason `authority revoke --upstream` gives AWS. An intermediate is revoked
     * after the fleet moved off it (SUPERSEDED); set KEY_COMPROMISE while
     * responding to a suspected key compromise.
     */
    revocationReason: z.enum(revocationReasons).default('SUPERSEDED'),
  })
  .strict();

export type PcaConfigInput = z.input<typeof pcaConfigSchema>;
export type PcaConfig = z.output<typeof pcaConfigSchema>;
export type BackoffConfig = PcaConfig['poll'];
