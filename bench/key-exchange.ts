// node bench/key-exchange.ts [seconds=2] [concurrency=8] [rounds=15]: the tunnel's CPU time per
// full mTLS handshake (ECDSA P-256) with the post-quantum hybrid X25519MLKEM768 against X25519,
// side by side in alternating slices. The Go load generator of `npm run bench` (Go 1.19) offers no
// ML-KEM, so the clients and TLS servers here are Node.js 24's (OpenSSL 3.5), forcing one group each:
//   server mode: one server tunnel, a client offering only X25519, then one offering only the hybrid;
//   client mode: client tunnels towards a TLS server that allows only the hybrid, towards one that
//   allows only X25519 (the tunnel still sends its hybrid key share), and, as the baseline, one
//   started with GODEBUG=tlsmlkem=0 (the classical groups only, as before the hybrid) towards the
//   X25519 server.
// Each connection is a fresh handshake (no resumption) that echoes one byte through the tunnel.
// The tunnels run on core 1 (taskset), this process (clients, TLS servers, echo backend) on core 0.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, createSecureContext, createServer, type Server } from 'node:tls';
import { echoBackend } from '../test/helpers/backends.ts';
import { runGhostunnel, type Daemon } from '../test/helpers/daemon.ts';
import { issue, makeCa, tempDir } from '../test/helpers/pki.ts';
import { machineFacts, loadAverage } from './machine.ts';
import { cpuSeconds } from './processes.ts';
import { median } from './report.ts';

const seconds = Number(process.argv[2] ?? 2);
const concurrency = Number(process.argv[3] ?? 8);
const rounds = Number(process.argv[4] ?? 15);

const dir = tempDir('gt-bench-kx-');
const ca = makeCa('bench-ca', { dir });
const serverCert = issue(ca, 'server', { cn: 'localhost', dns: ['localhost'] }, dir);
const clientCert = issue(ca, 'client', { cn: 'client' }, dir);
const pem = (path: string): Buffer => readFileSync(path);

/** One connection through a tunnel: the handshake (by the client or by the tunnel), one byte there and back. */
type Connect = () => Promise<void>;

function echoOnce(socket: import('node:net').Socket, resolve: () => void, reject: (err: Error) => void): void {
  socket.once('data', () => {
    socket.destroy();
    resolve();
  });
  socket.once('error', reject);
}

/** A Node.js mTLS client to a server tunnel, offering only `group` (one context for all its connections). */
function tlsClient(port: number, group: string): Connect {
  const secureContext = createSecureContext({ ca: pem(ca.cert), cert: pem(clientCert.cert), key: pem(clientCert.key), ecdhCurve: group });
  const options = { host: '127.0.0.1', port, servername: 'localhost', secureContext };
  return () =>
    new Promise((resolve, reject) => {
      const s = tlsConnect(options, () => s.write('x'));
      echoOnce(s, resolve, reject);
    });
}

/** A plain client to a client tunnel, which makes the TLS handshake to its target. */
function plainClient(port: number): Connect {
  return () =>
    new Promise((resolve, reject) => {
      const s = netConnect({ host: '127.0.0.1', port }, () => s.write('x'));
      echoOnce(s, resolve, reject);
    });
}

/** A TLS echo server that requires a client certificate and allows only `group`. */
async function tlsEcho(group: string): Promise<Server> {
  const server = createServer({ cert: pem(serverCert.cert), key: pem(serverCert.key), ca: pem(ca.cert), requestCert: true, rejectUnauthorized: true, ecdhCurve: group }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const TUNNEL_CORE = ['taskset', '-c', '1'];

async function startTunnel(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ gt: Daemon; port: number }> {
  const gt = runGhostunnel([...args, '--listen', '127.0.0.1:0', '--quiet', 'conns'], { wrap: TUNNEL_CORE, env });
  return { gt, port: (await gt.address()).port };
}

interface Subject {
  readonly label: string;
  /** For the per-round lines. */
  readonly short: string;
  readonly pid: number;
  readonly connect: Connect;
  /** µs of the tunnel's CPU per handshake, one figure per round. */
  readonly perRound: number[];
}

/** Handshakes for `ms`, `concurrency` at a time: µs of the tunnel's CPU (all threads, user + system) per handshake. */
async function measure(subject: Subject, ms: number): Promise<{ cpuUs: number; rate: number }> {
  const end = performance.now() + ms;
  let count = 0;
  let failures = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      try {
        await subject.connect();
        count++;
      } catch {
        failures++;
      }
    }
  };
  const cpu = cpuSeconds(subject.pid);
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = (performance.now() - started) / 1000;
  if (failures > 0) console.log(`  ${subject.label}: ${failures} failed connections`);
  return { cpuUs: ((cpuSeconds(subject.pid) - cpu) * 1e6) / count, rate: count / elapsed };
}

const facts = machineFacts();
// This process on core 0, all its threads; the tunnels on core 1.
execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
console.log(`${new Date().toISOString()}: Node ${facts.node} (OpenSSL ${facts.nodeOpenssl}), ${facts.nproc} CPUs (${facts.cpu}); load average ${loadAverage()}`);
console.log(`full mTLS handshakes (ECDSA P-256, TLS 1.3, no resumption), ${concurrency} at a time; ${rounds} rounds of ${seconds} s slices, the subjects of a table in turn (reversed every other round), after a 1 s warm-up each`);

const backend = await echoBackend();
const hybridServer = await tlsEcho('X25519MLKEM768');
const classicalServer = await tlsEcho('X25519');
const portOf = (s: Server): number => (s.address() as import('node:net').AddressInfo).port;
const serverArgs = ['server', '--target', `127.0.0.1:${backend.port}`, '--cert', serverCert.cert, '--key', serverCert.key, '--cacert', ca.cert, '--allow-cn', 'client'];
const clientArgs = (port: number): string[] => ['client', '--target', `localhost:${port}`, '--cert', clientCert.cert, '--key', clientCert.key, '--cacert', ca.cert];
const tunnels = [
  await startTunnel(serverArgs),
  await startTunnel(clientArgs(portOf(hybridServer))),
  await startTunnel(clientArgs(portOf(classicalServer))),
  await startTunnel(clientArgs(portOf(classicalServer)), { GODEBUG: 'tlsmlkem=0' }),
];
const [server, toHybrid, toClassical, classicalOnly] = tunnels as [(typeof tunnels)[0], (typeof tunnels)[0], (typeof tunnels)[0], (typeof tunnels)[0]];
const subject = (label: string, short: string, t: { gt: Daemon }, connect: Connect): Subject => ({ label, short, pid: t.gt.proc.pid!, connect, perRound: [] });
// Each table: the baseline first; every other row is compared with it, round by round.
const tables: Array<{ title: string; subjects: Subject[] }> = [
  {
    title: 'server mode: the client offers one group',
    subjects: [subject('X25519', 'X25519', server, tlsClient(server.port, 'X25519')), subject('X25519MLKEM768', 'X25519MLKEM768', server, tlsClient(server.port, 'X25519MLKEM768'))],
  },
  {
    title: 'client mode: the server allows one group',
    subjects: [
      subject('X25519, tunnel offers the classical groups only (GODEBUG=tlsmlkem=0)', 'X25519 (tlsmlkem=0)', classicalOnly, plainClient(classicalOnly.port)),
      subject('X25519, tunnel sends both key shares (default)', 'X25519 (both shares)', toClassical, plainClient(toClassical.port)),
      subject('X25519MLKEM768 (default)', 'X25519MLKEM768', toHybrid, plainClient(toHybrid.port)),
    ],
  },
];

const fixed = (v: number): string => v.toFixed(0);
try {
  for (const table of tables) for (const s of table.subjects) await measure(s, 1000);
  for (let round = 1; round <= rounds; round++) {
    for (const table of tables) {
      // Slices seconds apart, in A B C then C B A order, so that a change in the machine's load hits every subject alike.
      const order = round % 2 === 1 ? table.subjects : [...table.subjects].reverse();
      const figures: string[] = [];
      for (const s of order) {
        const { cpuUs, rate } = await measure(s, seconds * 1000);
        s.perRound.push(cpuUs);
        figures.push(`${s.short} ${fixed(cpuUs)} µs (${fixed(rate)}/s)`);
      }
      console.log(`round ${round} · ${table.title}: ${figures.join(' · ')}`);
    }
  }
  console.log(`\nload average at the end: ${loadAverage()}`);
  for (const table of tables) {
    const [base, ...others] = table.subjects as [Subject, ...Subject[]];
    console.log(`\n${table.title}\n\n| | µs of tunnel CPU per handshake (median) | more than the first row, µs (median of per-round differences) | ratio to the first row (median of per-round ratios) |\n|---|---:|---:|---:|`);
    for (const s of [base, ...others]) {
      const delta = median(s.perRound.map((v, i) => v - base.perRound[i]!))!;
      const ratio = median(s.perRound.map((v, i) => v / base.perRound[i]!))!;
      console.log(`| ${s.label} | ${fixed(median(s.perRound)!)} | ${s === base ? '' : fixed(delta)} | ${ratio.toFixed(2)}× |`);
    }
    console.log(`\nevery round, µs: ${table.subjects.map((s) => `${s.short}: ${s.perRound.map(fixed).join(' / ')}`).join('; ')}`);
  }
} finally {
  for (const t of tunnels) await t.gt.stop();
  await backend.close();
  hybridServer.close();
  classicalServer.close();
}
