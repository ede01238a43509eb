/**
 * Issue #11 item 3: the Helm chart, rendered by a real helm, every object checked
 * against the official Kubernetes schemas (kubernetes-validate), the rendered config
 * through our own config schema, and the plain manifests equal to the chart's output.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { parseDurationSeconds } from '../../src/duration.js';
import { checkUpstreamConfig } from '../../src/upstream/loader.js';
import { loadBootstrap } from '../helpers/full-envoy-api.js';
import { hasTools, toolPath } from '../helpers/tools.js';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../..');
const chart = path.join(repo, 'deploy/helm/workload-ca');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: any;
}

async function helm(...args: string[]): Promise<string> {
  const { stdout } = await run(toolPath('helm')!, args, { cwd: repo, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

async function render(...set: string[]): Promise<{ text: string; objects: K8sObject[] }> {
  const text = await helm('template', 'workload-ca', chart, '--namespace', 'workload-ca', ...set.flatMap((s) => ['--set', s]));
  const objects = parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
  return { text, objects };
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'wca-helm-'));

/** kubernetes-validate --strict (unknown fields are errors) on every object; resolves with its report. */
async function validate(text: string): Promise<string> {
  const file = path.join(tmp(), 'rendered.yaml');
  fs.writeFileSync(file, text);
  try {
    const { stdout, stderr } = await run(toolPath('kubernetesValidate')!, ['--strict', file], { timeout: 120_000 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout: string; stderr: string };
    throw new Error(`kubernetes-validate refused the chart's output:\n${e.stdout}${e.stderr}`);
  }
}

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const one = (objects: K8sObject[], kind: string): K8sObject => {
  const found = byKind(objects, kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};

// Every test renders (and validates) on its own, into its own temp files, and most of the time is
// spent waiting on helm and kubernetes-validate processes: the tests run side by side.
describe.runIf(hasTools('helm', 'kubernetesValidate'))('Helm chart deploy/helm/workload-ca', { concurrent: true }, () => {
  it('passes helm lint --strict', async () => {
    expect(await helm('lint', '--strict', chart)).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('renders the objects a deployment needs, each valid against the official Kubernetes schemas', async () => {
    const { text, objects } = await render();
    expect(objects.map((o) => o.kind).sort()).toEqual(
      ['ClusterRoleBinding', 'ConfigMap', 'Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'ServiceAccount'],
    );
    const report = await validate(text);
    expect(report.match(/passed for resource/g)).toHaveLength(objects.length);
  });

  it('with every optional part switched the other way, still valid', async () => {
    const { text, objects } = await render(
      'upstreamSecret.name=vault-approle',
      'vaultToken.enabled=false',
      'rbac.tokenReview=false',
      'podDisruptionBudget.enabled=false',
      'networkPolicy.sdsFrom[0].podSelector.matchLabels.mesh=on',
      'networkPolicy.httpFrom[0].namespaceSelector.matchLabels.name=monitoring',
      'service.annotations.team=security',
    );
    expect(byKind(objects, 'ClusterRoleBinding')).toEqual([]);
    expect(byKind(objects, 'PodDisruptionBudget')).toEqual([]);
    const pod = one(objects, 'Deployment').spec.template.spec;
    expect(pod.containers[0].envFrom).toBeUndefined();
    expect(pod.volumes.map((v: { name: string }) => v.name)).toEqual(['config', 'run', 'upstream']);
    expect(one(objects, 'NetworkPolicy').spec.ingress).toHaveLength(2);
    await validate(text);
  });

  it('binds the service account to system:auth-delegator for TokenReview', async () => {
    const { objects } = await render();
    const binding = one(objects, 'ClusterRoleBinding');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: one(objects, 'ServiceAccount').metadata.name, namespace: 'workload-ca' }]);
  });

  it('runs hardened: non-root, read-only root filesystem, no capabilities, probes, resources, only /run/workload-ca writable', async () => {
    const { objects } = await render();
    const pod = one(objects, 'Deployment').spec.template.spec;
    const [container] = pod.containers;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http-metrics' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http-metrics' });
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
    const writable = container.volumeMounts.filter((m: { readOnly?: boolean }) => !m.readOnly);
    expect(writable).toEqual([{ name: 'run', mountPath: '/run/workload-ca' }]);
    // Vault's Kubernetes auth gets its own projected token (audience vault), where the config points.
    const vault = pod.volumes.find((v: { name: string }) => v.name === 'vault-token');
    expect(vault.projected.sources[0].serviceAccountToken).toMatchObject({ audience: 'vault', path: 'token' });
    expect(pod.terminationGracePeriodSeconds).toBe(25);
  });

  describe('termination grace (F5): never shorter than preStop + drain + the server\'s own backstop', () => {
    // The server exits 1 this long after shutdownTimeout if a drain hangs; the kubelet must not SIGKILL first.
    const backstop = Number(
      /const shutdownBackstopSeconds = (\d+);/.exec(fs.readFileSync(path.join(repo, 'src/cli/commands/serve.ts'), 'utf8'))?.[1],
    );
    const cases: [string, number][] = [['1m30s', 90], ['1h', 3600], ['90', 90], ['2m', 120], ['1h30m10s', 5410], ['500ms', 0.5], ['2.5', 2.5]];

    it.each(cases)('shutdownTimeout %s: the grace is preStop + %d s + more than the backstop', async (timeout, seconds) => {
      expect(backstop).toBeGreaterThan(0);
      // Each value is checked against the server's own parser too, so the two grammars cannot drift apart.
      expect(parseDurationSeconds(timeout)).toBe(seconds);
      const { objects } = await render(`config.shutdownTimeout=${timeout}`, 'preStop.sleepSeconds=7');
      const pod = one(objects, 'Deployment').spec.template.spec;
      expect(pod.containers[0].lifecycle.preStop).toEqual({ sleep: { seconds: 7 } });
      expect(pod.terminationGracePeriodSeconds).toBe(7 + Math.ceil(seconds) + 10);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(7 + seconds + backstop);
    });

    it('a number, not a string, counts as seconds; preStop 0 renders no hook', async () => {
      const { objects } = await render('config.shutdownTimeout=45', 'preStop.sleepSeconds=0');
      const pod = one(objects, 'Deployment').spec.template.spec;
      expect(pod.containers[0].lifecycle).toBeUndefined();
      expect(pod.terminationGracePeriodSeconds).toBe(55);
    });

    it.each(['1x', '30m1h', '1h1h', '-5s', '0s', '1e3'])('refuses %s at render time, as the server would at start', async (timeout) => {
      expect(parseDurationSeconds(timeout) ?? 0).toBeLessThanOrEqual(0);
      await expect(render(`config.shutdownTimeout=${timeout}`)).rejects.toThrow(/config\.shutdownTimeout "[^"]*"/);
    });
  });

  it('mounts upstreamSecret as read-only 0400 files, never as environment variables', async () => {
    const { objects } = await render('upstreamSecret.name=vault-approle');
    const pod = one(objects, 'Deployment').spec.template.spec;
    const [container] = pod.containers;
    expect(container.envFrom).toBeUndefined();
    expect(container.env).toBeUndefined();
    expect(container.volumeMounts).toContainEqual({ name: 'upstream', mountPath: '/etc/workload-ca/upstream', readOnly: true });
    expect(pod.volumes).toContainEqual({ name: 'upstream', secret: { secretName: 'vault-approle', defaultMode: 0o400 } });
    // Root-owned Secret files become group-readable (never writable) for the server's group.
    expect(pod.securityContext).toMatchObject({ runAsGroup: 65532, fsGroup: 65532 });
  });

  it('for the AWS SDK points AWS_SHARED_CREDENTIALS_FILE at the Secret key, the only variable set', async () => {
    const { objects } = await render('upstreamSecret.name=aws', 'upstreamSecret.awsCredentialsKey=credentials');
    const [container] = one(objects, 'Deployment').spec.template.spec.containers;
    expect(container.envFrom).toBeUndefined();
    expect(container.env).toEqual([{ name: 'AWS_SHARED_CREDENTIALS_FILE', value: '/etc/workload-ca/upstream/credentials' }]);
  });

  it('renders a PodDisruptionBudget only with more than one replica', async () => {
    expect(byKind((await render('replicaCount=1')).objects, 'PodDisruptionBudget')).toEqual([]);
    expect(one((await render('replicaCount=3')).objects, 'PodDisruptionBudget').spec.maxUnavailable).toBe(1);
  });

  it('restricts egress to DNS, the upstream and the API server when networkPolicy.egress is on, and stays valid', async () => {
    expect(one((await render()).objects, 'NetworkPolicy').spec.policyTypes).toEqual(['Ingress']);
    const { text, objects } = await render(
      'networkPolicy.egress.enabled=true',
      'networkPolicy.egress.upstream.to[0].ipBlock.cidr=10.20.0.0/16',
      'networkPolicy.egress.apiServer.to[0].ipBlock.cidr=10.0.0.1/32',
    );
    const policy = one(objects, 'NetworkPolicy').spec;
    expect(policy.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.egress.map((r: { to: unknown[] }) => r.to)).toEqual([
      [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }],
      [{ ipBlock: { cidr: '10.20.0.0/16' } }],
      [{ ipBlock: { cidr: '10.0.0.1/32' } }],
    ]);
    expect(policy.egress[0].ports).toEqual([{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }]);
    expect(policy.egress[1].ports).toEqual([{ port: 8200, protocol: 'TCP' }]);
    await validate(text);
    // Egress on with nowhere to go would cut the upstream off: a render error, not a silent outage.
    await expect(render('networkPolicy.egress.enabled=true')).rejects.toThrow(/networkPolicy\.egress/);
  });

  it("renders a config our own schema accepts, with the pod's listeners and the Service's DNS names", async () => {
    const { objects } = await render();
    const file = path.join(tmp(), 'config.yaml');
    fs.writeFileSync(file, one(objects, 'ConfigMap').data['config.yaml']);
    const config = loadConfig({ file, env: {} });
    expect(config.profile).toBe('production');
    expect(config.listen.sds).toEqual({ kind: 'tcp', host: '0.0.0.0', port: 8234 });
    expect(config.listen.admin).toEqual({ kind: 'unix', path: '/run/workload-ca/admin/admin.sock' });
    expect(config.sds.serverDnsNames).toEqual(['workload-ca.workload-ca.svc', 'workload-ca.workload-ca.svc.cluster.local']);
    expect(config.upstream.config).toMatchObject({ auth: { method: 'kubernetes', jwtFile: '/var/run/secrets/workload-ca/vault/token' } });
    expect(await checkUpstreamConfig({ plugin: config.upstream.plugin, config: config.upstream.config })).toEqual([]);
  });

  it('deploy/kubernetes/workload-ca.yaml is what the chart renders (re-run scripts/render-manifests.sh)', async () => {
    const out = path.join(tmp(), 'workload-ca.yaml');
    await run(path.join(repo, 'scripts/render-manifests.sh'), [out], { cwd: repo, env: { ...process.env, WCA_HELM: toolPath('helm') } });
    expect(fs.readFileSync(path.join(repo, 'deploy/kubernetes/workload-ca.yaml'), 'utf8')).toBe(fs.readFileSync(out, 'utf8'));
  });
});

describe("the chart README's Envoy sidecar example", () => {
  it("loads into Envoy's Bootstrap and sends the pod's projected token from a file on every SDS call", () => {
    const readme = fs.readFileSync(path.join(chart, 'README.md'), 'utf8');
    const yaml = /<!-- sidecar-bootstrap:start[^>]*-->\n```yaml\n([\s\S]*?)```\n<!-- sidecar-bootstrap:end -->/.exec(readme)![1]!;
    const bootstrap = loadBootstrap(yaml);
    const tls = bootstrap.static_resources.listeners[0].filter_chains[0].transport_socket.typed_config;
    expect(tls.type_url).toBe('type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext');
    expect(yaml).toContain('secret_data: { filename: /var/run/secrets/workload-ca/token }');
    expect(yaml).toContain('target_uri: workload-ca.workload-ca.svc:8234');
  });
});
