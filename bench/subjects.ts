// What is measured: our tunnel (server and client mode), its peers, and the direct TLS echo that
// serves as the ceiling. Each subject says how to start it on a given port.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type Service = 'echo' | 'sink';

export interface StartRequest {
  readonly port: number;
  readonly service: Service;
  /** Directory made by certs.ts (server.*, client.*, ca.crt). */
  readonly certDir: string;
  /** The backend a tunnel forwards to (undefined for the direct echo, which is its own backend). */
  readonly targetPort: number | undefined;
}

export interface Subject {
  readonly id: string;
  /** Column heading in the tables. */
  readonly label: string;
  readonly mode: 'server' | 'client';
  /** The backend it forwards to: none (it answers itself), plain (server mode) or TLS (client mode). */
  readonly backend: 'none' | 'plain' | 'tls';
  /** How loadgen dials it. */
  readonly dial: 'tls' | 'plain';
  /** The signal that reloads its certificates in place; undefined when it has no in-place reload. */
  readonly reloadSignal: NodeJS.Signals | undefined;
  /** Environment variables it runs with, beyond the bench's own. */
  readonly env: Readonly<Record<string, string>>;
  command(req: StartRequest): readonly string[];
}

/** A build of our tunnel: its entry point (src/main.ts or a scratch copy) and extra flags. */
export interface TunnelBuild {
  readonly label: string;
  readonly entry: string;
  readonly nodeArgs: readonly string[];
  readonly tunnelArgs: readonly string[];
  /** Extra environment variables (e.g. the switch of an experiment in a scratch copy). */
  readonly env: Readonly<Record<string, string>>;
}

const HERE = import.meta.dirname;

function target(req: StartRequest): string {
  if (req.targetPort === undefined) throw new Error('a tunnel needs a backend port');
  return `127.0.0.1:${req.targetPort}`;
}

export function directEcho(loadgen: string): Subject {
  return {
    id: 'direct',
    label: 'direct TLS echo',
    mode: 'server',
    backend: 'none',
    dial: 'tls',
    reloadSignal: undefined,
    env: {},
    command: (req) => [loadgen, req.service, '-listen', `127.0.0.1:${req.port}`, '-tls', `${join(req.certDir, 'server.crt')},${join(req.certDir, 'server.key')}`, '-ca', join(req.certDir, 'ca.crt')],
  };
}

/**
 * The smallest Node.js mTLS tunnel (node:tls in, node:net out): the floor for a Node.js program that
 * does this job, here for the rates (the node data plane runs on the same TLS stack), in
 * footprint.ts for memory and start-up.
 */
export const NODE_TLS_TUNNEL = `
const { readFileSync } = require('node:fs'); const tls = require('node:tls'); const net = require('node:net');
const [port, dir, target] = process.argv.slice(1); const file = (n) => readFileSync(dir + '/' + n);
tls.createServer({ cert: file('server.crt'), key: file('server.key'), ca: file('ca.crt'), requestCert: true, rejectUnauthorized: true }, (s) => {
  const b = net.connect(Number(target), '127.0.0.1'); s.pipe(b).pipe(s); s.on('error', () => b.destroy()); b.on('error', () => s.destroy());
}).listen(Number(port), '127.0.0.1');`;

export function nodeTlsTunnel(): Subject {
  return {
    id: 'node-tls',
    label: 'Node.js TLS tunnel',
    mode: 'server',
    backend: 'plain',
    dial: 'tls',
    reloadSignal: undefined,
    env: {},
    command: (req) => [process.execPath, '-e', NODE_TLS_TUNNEL, String(req.port), req.certDir, target(req).split(':')[1]!],
  };
}

export function tunnelServer(build: TunnelBuild, id: string): Subject {
  return {
    id,
    label: build.label,
    mode: 'server',
    backend: 'plain',
    dial: 'tls',
    reloadSignal: 'SIGHUP',
    env: build.env,
    command: (req) => [
      process.execPath,
      ...build.nodeArgs,
      build.entry,
      'server',
      '--listen',
      `127.0.0.1:${req.port}`,
      '--target',
      target(req),
      '--cert',
      join(req.certDir, 'server.crt'),
      '--key',
      join(req.certDir, 'server.key'),
      '--cacert',
      join(req.certDir, 'ca.crt'),
      '--allow-all',
      ...build.tunnelArgs,
    ],
  };
}

export function tunnelClient(build: TunnelBuild, id: string): Subject {
  return {
    id,
    label: `${build.label} client`,
    mode: 'client',
    backend: 'tls',
    dial: 'plain',
    reloadSignal: 'SIGHUP',
    env: build.env,
    command: (req) => [
      process.execPath,
      ...build.nodeArgs,
      build.entry,
      'client',
      '--listen',
      `127.0.0.1:${req.port}`,
      '--target',
      target(req),
      '--cert',
      join(req.certDir, 'client.crt'),
      '--key',
      join(req.certDir, 'client.key'),
      '--cacert',
      join(req.certDir, 'ca.crt'),
      ...build.tunnelArgs,
    ],
  };
}

/** The same build on the portable data plane (--data-plane node), measured beside the engine. */
export function onNodePlane(build: TunnelBuild): TunnelBuild {
  return { ...build, label: `${build.label} node`, tunnelArgs: [...build.tunnelArgs, '--data-plane', 'node'] };
}

/** A peer started by its script in bench/peers/, taking server|client LISTEN TARGET CERTDIR. */
function peer(id: string, label: string, mode: 'server' | 'client', script: string, reloadSignal: NodeJS.Signals | undefined): Subject {
  return {
    id,
    label,
    mode,
    backend: mode === 'server' ? 'plain' : 'tls',
    dial: mode === 'server' ? 'tls' : 'plain',
    reloadSignal,
    env: {},
    command: (req) => ['bash', join(HERE, 'peers', script), mode, `127.0.0.1:${req.port}`, target(req), req.certDir],
  };
}

function installed(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Client mode is measured once the tunnel has it: a bundle (dist/main.cjs) has, and so has a tree with src/tunnel/client-tunnel.ts. */
export function hasClientMode(build: TunnelBuild): boolean {
  if (build.entry.endsWith('.cjs')) return true;
  const dir = join(dirname(build.entry), 'tunnel');
  return existsSync(join(dir, 'client-tunnel.ts')) || existsSync(join(dir, 'client-tunnel.js'));
}

export interface SubjectChoice {
  readonly subjects: Subject[];
  /** Why a subject is missing, for the report. */
  readonly skipped: string[];
}

/**
 * Every subject, in round order (A B C …). stunnel reloads its configuration and certificates on
 * SIGHUP; HAProxy reloads only by starting a new process (master-worker, SIGUSR2), which is not
 * the same thing, so it gets no reload figure.
 */
export function allSubjects(loadgen: string, main: TunnelBuild, alternatives: readonly TunnelBuild[]): SubjectChoice {
  const skipped: string[] = [];
  const subjects: Subject[] = [directEcho(loadgen), tunnelServer(main, 'tunnel'), tunnelServer(onNodePlane(main), 'tunnel-node'), nodeTlsTunnel()];
  alternatives.forEach((b, i) => subjects.push(tunnelServer(b, `alt${i + 1}`)));
  const haproxy = installed('haproxy');
  const stunnel = installed('stunnel4');
  if (haproxy) subjects.push(peer('haproxy', 'HAProxy', 'server', 'haproxy.sh', undefined));
  else skipped.push('HAProxy: not installed (apt-get install -y haproxy)');
  if (stunnel) subjects.push(peer('stunnel', 'stunnel', 'server', 'stunnel.sh', 'SIGHUP'));
  else skipped.push('stunnel: not installed (apt-get install -y stunnel4)');
  if (hasClientMode(main)) {
    subjects.push(tunnelClient(main, 'tunnel-client'), tunnelClient(onNodePlane(main), 'tunnel-client-node'));
    if (haproxy) subjects.push(peer('haproxy-client', 'HAProxy client', 'client', 'haproxy.sh', undefined));
    if (stunnel) subjects.push(peer('stunnel-client', 'stunnel client', 'client', 'stunnel.sh', 'SIGHUP'));
  } else {
    skipped.push(`client mode: ${join(dirname(main.entry), 'tunnel')} has no client-tunnel module yet`);
  }
  return { subjects, skipped };
}
