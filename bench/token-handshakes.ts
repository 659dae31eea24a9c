// node bench/token-handshakes.ts [seconds] [concurrency]: full TLS handshakes per second against a
// server tunnel whose key is on a SoftHSM2 token (through OpenSSL's pkcs11 engine) versus in
// memory, for ECDSA P-256 and RSA-2048. Each handshake is a fresh connection without a session to
// resume; the client runs in this process, the tunnel in a child, both on this machine.
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { echoBackend } from '../test/helpers/backends.ts';
import { runGhostunnel, type Daemon } from '../test/helpers/daemon.ts';
import { issue, makeCa, tempDir } from '../test/helpers/pki.ts';
import { issueForPublicKey, makeToken } from '../test/helpers/softhsm.ts';

const seconds = Number(process.argv[2] ?? 5);
const concurrency = Number(process.argv[3] ?? 8);

function handshake(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    s.once('secureConnect', () => {
      s.destroy();
      resolve();
    });
    s.once('error', reject);
  });
}

/** CPU seconds the process has used (user + system), from /proc: contention-proof, unlike wall time. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Round {
  /** Handshakes per wall-clock second. */
  readonly rate: number;
  /** Handshakes per second of the tunnel's CPU time (SoftHSM runs inside it). */
  readonly perCpuSecond: number;
}

async function measure(port: number, pid: number, ms: number): Promise<Round> {
  const end = performance.now() + ms;
  let count = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      await handshake(port);
      count++;
    }
  };
  const started = performance.now();
  const cpu = cpuSeconds(pid);
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { rate: count / ((performance.now() - started) / 1000), perCpuSecond: count / (cpuSeconds(pid) - cpu) };
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

const pin = 'bench-pin-1';
const token = makeToken('bench', pin);
const ca = makeCa();
const dir = tempDir();
const backend = await echoBackend();
const subjects: Array<{ name: string; args: string[] }> = [];
for (const kind of ['ec', 'rsa'] as const) {
  const key = token.generateKey(kind, kind === 'ec' ? '02' : '01', `bench-${kind}`);
  const onToken = issueForPublicKey(ca, `token-${kind}`, key.publicKeyPem, dir);
  const inMemory = issue(ca, `memory-${kind}`, { cn: 'localhost', alg: kind }, dir);
  subjects.push({ name: `${kind === 'ec' ? 'ECDSA P-256' : 'RSA-2048'}, key on the token`, args: ['--cert', onToken.cert, '--pkcs11-module', token.module, '--pkcs11-token-label', token.label] });
  subjects.push({ name: `${kind === 'ec' ? 'ECDSA P-256' : 'RSA-2048'}, key in memory`, args: ['--cert', inMemory.cert, '--key', inMemory.key] });
}

const rounds = Number(process.argv[4] ?? 3);
console.log(`full TLS 1.3 handshakes, no client certificate, ${concurrency} at a time; median of ${rounds} alternating rounds of ${seconds}s`);
console.log(`${'subject'.padEnd(32)} ${'per second'.padStart(10)} ${'per tunnel CPU second'.padStart(22)}`);
const running: Array<{ name: string; gt: Daemon; port: number; rounds: Round[] }> = [];
try {
  for (const subject of subjects) {
    const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--disable-authentication', '--quiet', 'conns', ...subject.args], {
      env: { ...token.env, PKCS11_PIN: pin },
    });
    running.push({ name: subject.name, gt, port: (await gt.address()).port, rounds: [] });
  }
  for (const r of running) await measure(r.port, r.gt.proc.pid!, 500);
  for (let round = 0; round < rounds; round++) {
    for (const r of running) r.rounds.push(await measure(r.port, r.gt.proc.pid!, seconds * 1000));
  }
  for (const r of running) {
    const rate = median(r.rounds.map((x) => x.rate));
    const perCpu = median(r.rounds.map((x) => x.perCpuSecond));
    console.log(`${r.name.padEnd(32)} ${rate.toFixed(0).padStart(10)} ${perCpu.toFixed(0).padStart(22)}`);
  }
} finally {
  for (const r of running) await r.gt.stop();
  await backend.close();
}
