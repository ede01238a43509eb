import { describe, expect, it } from 'vitest';
import { defaultTemplateArn } from '../../../plugins/aws-acm-pca/config.js';
import plugin from '../../../plugins/aws-acm-pca/index.js';
import { configProblems } from '../../../src/upstream/loader.js';

const arn = 'arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0';

describe('aws-acm-pca plugin config', () => {
  it('fills in the subordinate-CA template and a small retry budget', () => {
    const config = plugin.configSchema.parse({ certificateAuthorityArn: arn });
    expect(config).toMatchObject({
      templateArn: defaultTemplateArn,
      requestTimeoutMs: 10_000,
      issue: { initialDelayMs: 1_000, maxDelayMs: 20_000, maxAttempts: 3 },
      poll: { initialDelayMs: 500, maxDelayMs: 5_000, maxAttempts: 30 },
    });
    expect(config.region).toBeUndefined(); // left to the SDK's default chain
    expect(config.signingAlgorithm).toBeUndefined(); // read from the CA
  });

  it.each([
    ['no CA ARN', {}, ['config.certificateAuthorityArn']],
    ['an ACM (not Private CA) ARN', { certificateAuthorityArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' }, ['config.certificateAuthorityArn']],
    ['an unknown signing algorithm', { certificateAuthorityArn: arn, signingAlgorithm: 'SHA1WITHRSA' }, ['config.signingAlgorithm']],
    ['an endpoint that is not a URL', { certificateAuthorityArn: arn, endpoint: 'localhost:4566' }, ['config.endpoint']],
    ['a region that is not one', { certificateAuthorityArn: arn, region: 'Ireland' }, ['config.region']],
    ['a template that is not an ARN', { certificateAuthorityArn: arn, templateArn: 'SubordinateCACertificate_PathLen0' }, ['config.templateArn']],
    ['an unbounded retry budget', { certificateAuthorityArn: arn, issue: { maxAttempts: 1000 } }, ['config.issue.maxAttempts']],
    ['a max delay below the initial delay', { certificateAuthorityArn: arn, poll: { initialDelayMs: 500, maxDelayMs: 100 } }, ['config.poll.maxDelayMs']],
    ['credentials in the config file', { certificateAuthorityArn: arn, accessKeyId: 'AKIA…' }, ['config']],
  ])('rejects %s, naming the field', (_name, config, paths) => {
    const problems = configProblems(plugin, config);
    expect(problems.map((p) => p.path).sort()).toEqual([...paths].sort());
  });
});
