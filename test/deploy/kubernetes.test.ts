// docs/kubernetes: the manifests parse (as Kubernetes reads YAML, 1.1) and carry what makes the
// sidecar rotate hitlessly: the Secret cert-manager writes is the one mounted, read-only and not
// through subPath, at the paths the arguments name, with --auto-reload; probes on the status port.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parseArgs } from '../../src/cli/parse.ts';

type Obj = Record<string, any>;

function manifests(file: string): Obj[] {
  const text = readFileSync(new URL(`../../docs/kubernetes/${file}`, import.meta.url), 'utf8');
  return parseAllDocuments(text, { version: '1.1' }).map((doc) => {
    assert.deepEqual(doc.errors, [], `${file}: ${doc.errors.join('; ')}`);
    return doc.toJS() as Obj;
  });
}

const all = [...manifests('certificate.yaml'), ...manifests('deployment.yaml')];
const one = (kind: string): Obj => {
  const found = all.filter((m) => m.kind === kind);
  assert.equal(found.length, 1, kind);
  return found[0]!;
};

/** --name=value or --name value, as the container's args give them. */
function flag(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i]!.startsWith(`--${name}=`)) return args[i]!.slice(name.length + 3);
  }
  return undefined;
}

const portOf = (address: string): number => Number(new URL(address.includes('://') ? address : `tcp://${address}`).port);

describe('Kubernetes sidecar manifests', () => {
  const certificate = one('Certificate');
  const deployment = one('Deployment');
  const service = one('Service');
  const pod = deployment.spec.template.spec;
  const sidecar = (pod.containers as Obj[]).find((c) => c.name === 'ghostunnel')!;
  const args = sidecar.args as string[];
  const namedPort = (port: string | number): number => (typeof port === 'number' ? port : (sidecar.ports as Obj[]).find((p) => p.name === port)!.containerPort);

  it('cert-manager writes the Secret the pod mounts, read-only and without subPath', () => {
    assert.equal(certificate.apiVersion, 'cert-manager.io/v1');
    assert.ok(certificate.spec.usages.includes('server auth'));
    assert.equal(certificate.spec.privateKey.rotationPolicy, 'Always');
    const volume = (pod.volumes as Obj[]).find((v) => v.secret?.secretName === certificate.spec.secretName);
    assert.ok(volume, `a volume from Secret ${certificate.spec.secretName}`);
    assert.equal(volume.secret.defaultMode, 0o440);
    assert.ok(pod.securityContext.fsGroup, 'fsGroup makes the 0440 files readable by the container user');
    const mounts = (sidecar.volumeMounts as Obj[]).filter((m) => m.name === volume.name);
    assert.equal(mounts.length, 1);
    assert.equal(mounts[0]!.readOnly, true);
    assert.equal(mounts[0]!.subPath, undefined, 'a subPath mount is never updated by the kubelet');
    assert.equal(certificate.metadata.namespace, deployment.metadata.namespace);
  });

  it('the arguments parse, reload on change and read the mounted Secret keys', () => {
    assert.equal(parseArgs(args, () => {}).kind, 'run');
    assert.equal(args[0], 'server');
    assert.ok(args.includes('--auto-reload'));
    const mountPath = (sidecar.volumeMounts as Obj[])[0]!.mountPath as string;
    assert.equal(flag(args, 'cert'), `${mountPath}/tls.crt`);
    assert.equal(flag(args, 'key'), `${mountPath}/tls.key`);
    assert.equal(flag(args, 'cacert'), `${mountPath}/ca.crt`);
    assert.match(flag(args, 'target')!, /^127\.0\.0\.1:\d+$/, 'the application is reached inside the pod');
    assert.equal(sidecar.securityContext.readOnlyRootFilesystem, true);
    assert.equal(sidecar.securityContext.allowPrivilegeEscalation, false);
    assert.notEqual(sidecar.securityContext.runAsUser, 0);
  });

  it('probes ask the status port: readiness /_status, liveness a route that does not depend on the backend', () => {
    const status = flag(args, 'status')!;
    assert.ok(status.startsWith('http://'), 'the kubelet probes plain HTTP here');
    const ready = sidecar.readinessProbe.httpGet;
    assert.equal(ready.path, '/_status');
    assert.equal(namedPort(ready.port), portOf(status));
    assert.equal((ready.scheme ?? 'HTTP').toLowerCase(), 'http');
    const live = sidecar.livenessProbe.httpGet;
    assert.equal(namedPort(live.port), portOf(status));
    assert.match(live.path, /^\/_metrics/);
  });

  it('the Service reaches the TLS listener; the grace period outlasts the drain', () => {
    const listenPort = portOf(flag(args, 'listen')!);
    assert.equal(namedPort(service.spec.ports[0].targetPort), listenPort);
    assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
    const shutdownSeconds = Number(/^(\d+)s$/.exec(flag(args, 'shutdown-timeout')!)![1]);
    const preStopSeconds = Number(sidecar.lifecycle.preStop.exec.command[1]);
    assert.ok(pod.terminationGracePeriodSeconds > shutdownSeconds + preStopSeconds, 'kubelet would SIGKILL during the drain');
  });
});
