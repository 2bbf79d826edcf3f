// deploy/k8s validated offline against the Kubernetes OpenAPI schemas (compiled
// into kubernetes-models' validators; no cluster is reachable in CI), plus the
// security and availability settings the deployment guide promises.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { DEPLOY } from './helpers.js';
import { loadGatewayConfig } from '../../gateway/src/config.js';

const DIR = join(DEPLOY, 'k8s');

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

type Model = new (o: unknown) => { validate(): void };

/** apiVersion/kind → the kubernetes-models module and class that validates it. */
async function modelFor(apiVersion: string, kind: string): Promise<Model> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const path = group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
  const mod = (await import(path)) as Record<string, Model>;
  const m = mod[kind];
  if (!m) throw new Error(`no schema for ${apiVersion} ${kind}`);
  return m;
}

function load(): Array<{ file: string; obj: Obj }> {
  const out: Array<{ file: string; obj: Obj }> = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
    for (const doc of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
      assert.equal(doc.errors.length, 0, `${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      out.push({ file, obj: doc.toJS() as Obj });
    }
  }
  return out;
}

describe('deploy/k8s manifests', () => {
  const all = load();
  const find = (kind: string, name: string) => {
    const o = all.find((x) => x.obj.kind === kind && x.obj.metadata.name === name)?.obj;
    assert.ok(o, `${kind}/${name} is missing`);
    return o as Obj & { spec: Record<string, any> };
  };

  it('validates every object against the Kubernetes schema for its apiVersion and kind', async () => {
    assert.ok(all.length >= 14, `expected the full set of objects, found ${all.length}`);
    for (const { file, obj } of all) {
      const M = await modelFor(obj.apiVersion, obj.kind);
      try {
        new M(obj).validate();
      } catch (err) {
        assert.fail(`${file}: ${obj.kind}/${obj.metadata.name} is invalid: ${(err as Error).message}`);
      }
      assert.equal(obj.metadata.namespace ?? (obj.kind === 'Namespace' ? undefined : 'missing'), obj.kind === 'Namespace' ? undefined : 'loki', `${obj.kind}/${obj.metadata.name} namespace`);
    }
  });

  it('the schema check is real: a wrongly typed field and a missing required one are rejected', async () => {
    const D = await modelFor('apps/v1', 'Deployment');
    const good = find('Deployment', 'loki-gateway');
    assert.throws(() => new D({ ...good, spec: { ...good.spec, replicas: 'two' } }).validate());
    assert.throws(() => new D({ ...good, spec: { ...good.spec, selector: undefined } }).validate());
  });

  it('lists every manifest in kustomization.yaml', () => {
    const k = parseAllDocuments(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources: string[] };
    const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    assert.deepEqual([...k.resources].sort(), files);
  });

  it('runs the gateway hardened, probed and replicated', () => {
    const d = find('Deployment', 'loki-gateway');
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    assert.ok(d.spec.replicas >= 2);
    assert.equal(pod.automountServiceAccountToken, false);
    assert.ok(pod.terminationGracePeriodSeconds > 0);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(c.securityContext.runAsNonRoot, true);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.equal(c.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz/live');
    assert.equal(c.readinessProbe.httpGet.path, '/healthz/ready');
    assert.ok(c.resources.requests.cpu && c.resources.limits.memory);
    find('HorizontalPodAutoscaler', 'loki-gateway');
    find('PodDisruptionBudget', 'loki-gateway');
    find('Service', 'loki-gateway');
    find('Ingress', 'loki');
  });

  it("configures the gateway for the ingress in front of it: public URL = the Ingress host, X-Forwarded-For believed from pod networks only, and the gateway's own loader accepts the ConfigMap", () => {
    const env = find('ConfigMap', 'loki-gateway').data as Record<string, string>;
    const host = find('Ingress', 'loki').spec.rules[0].host as string;
    assert.equal(env.LOKI_PUBLIC_URL, `https://${host}`);
    assert.equal(env.LOKI_BEHIND_TLS_PROXY, 'true');
    const proxies = (env.LOKI_TRUSTED_PROXIES ?? '').split(',');
    assert.ok(proxies.length > 0 && proxies.every((p) => /^(10\.|172\.16\.|192\.168\.)/.test(p)), `private pod networks only: ${proxies.join(',')}`);
    // The mTLS files are mounted Secrets (not on this machine); everything else loads as the pod would.
    const cfg = loadGatewayConfig({ env: Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('LOKI_DAEMON_'))) });
    assert.equal(cfg.public_url, `https://${host}`);
    assert.deepEqual([...cfg.trusted_proxies], proxies);
  });

  it('lets the gateway reach only lokid (and DNS), and lokid accept only the gateway', () => {
    const gw = find('NetworkPolicy', 'loki-gateway');
    assert.deepEqual(gw.spec.policyTypes, ['Ingress', 'Egress']);
    const targets = gw.spec.egress.map((e: { to: Array<{ podSelector?: { matchLabels: Record<string, string> } }> }) => e.to[0]!.podSelector?.matchLabels);
    assert.deepEqual(targets, [{ 'app.kubernetes.io/name': 'lokid' }, { 'k8s-app': 'kube-dns' }]);
    const d = find('NetworkPolicy', 'lokid');
    assert.deepEqual(d.spec.ingress[0].from, [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'loki-gateway' } } }]);
  });

  it('runs lokid as a node-level workload with exactly the host access it needs and no privileged mode', () => {
    const ds = find('DaemonSet', 'lokid');
    const pod = ds.spec.template.spec;
    const c = pod.containers[0];
    assert.equal(c.securityContext.privileged, false);
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'], add: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID'] });
    const hostPaths = pod.volumes.filter((v: { hostPath?: { path: string } }) => v.hostPath).map((v: { hostPath: { path: string } }) => v.hostPath.path);
    assert.deepEqual(hostPaths.sort(), ['/run/loki', '/var/lib/loki', '/var/run/docker.sock']);
    // Same path inside as on the node: the engine resolves sandbox mounts on the host.
    for (const m of c.volumeMounts.filter((x: { name: string }) => ['state', 'run'].includes(x.name))) {
      const v = pod.volumes.find((x: { name: string }) => x.name === m.name);
      assert.equal(m.mountPath, v.hostPath.path);
    }
  });
});
