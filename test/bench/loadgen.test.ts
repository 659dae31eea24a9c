// bench/loadgen, the benchmark's Go load generator, against its own backends and a Node.js peer:
// mutual TLS and plain TCP, each client mode's JSON figures, and its failures (a server it does
// not trust, bad flags) reported rather than hidden.
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildLoadgen, runLoadgen, startBackend, type LoadClient } from '../helpers/loadgen.ts';
import { issue, makeCa } from '../helpers/pki.ts';

/** Runs loadgen to its end, whatever its exit code. */
function run(bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

describe('bench/loadgen', () => {
  let bin: string;
  let client: LoadClient;
  let distrustful: LoadClient;
  const backends: ChildProcess[] = [];
  let tlsEcho: number;
  let plainEcho: number;
  let sink: number;

  before(async () => {
    bin = buildLoadgen();
    const ca = makeCa('loadgen-ca');
    const server = issue(ca, 'server', { dns: ['localhost'], ips: ['127.0.0.1'] });
    const c = issue(ca, 'client', { cn: 'client' });
    client = { cert: c.cert, key: c.key, ca: ca.cert };
    distrustful = { ...client, ca: makeCa('other-ca').cert };
    const start = async (...args: Parameters<typeof startBackend>): Promise<number> => {
      const { proc, port } = await startBackend(...args);
      backends.push(proc);
      return port;
    };
    tlsEcho = await start(bin, 'echo', ['-tls', `${server.cert},${server.key}`, '-ca', ca.cert]);
    plainEcho = await start(bin, 'echo');
    sink = await start(bin, 'sink');
  });
  after(() => {
    for (const p of backends) p.kill();
  });

  const tls = (port: number, who: LoadClient): string[] => ['-addr', `127.0.0.1:${port}`, '-cert', who.cert, '-key', who.key, '-ca', who.ca, '-sni', 'localhost'];

  it('hs: full mutual-TLS handshakes against the TLS echo, with ordered latency percentiles', async () => {
    const r = await runLoadgen(bin, 'hs', [...tls(tlsEcho, client), '-c', '2', '-d', '400ms']);
    assert.equal(r.mode, 'hs');
    assert.equal(r.errors, 0, r.error_sample);
    assert.ok(r.ok > 0);
    assert.ok(Math.abs(r.per_s - r.ok / (r.seconds as number)) < 1e-6 * r.per_s);
    assert.ok(r.p50_ms > 0 && r.p50_ms <= r.p99_ms && r.p99_ms <= (r.p999_ms as number), JSON.stringify(r));
  });

  it('hs: a server certificate from a CA it does not trust fails every operation, and says why', async () => {
    const r = await runLoadgen(bin, 'hs', [...tls(tlsEcho, distrustful), '-c', '1', '-d', '200ms']);
    assert.equal(r.ok, 0);
    assert.ok(r.errors > 0);
    assert.match(r.error_sample ?? '', /x509: certificate signed by unknown authority/);
  });

  it('rr: request/response of -size bytes on kept connections, TLS and plain', async () => {
    const overTls = await runLoadgen(bin, 'rr', [...tls(tlsEcho, client), '-c', '2', '-size', '1000', '-d', '300ms']);
    const plain = await runLoadgen(bin, 'rr', ['-addr', `127.0.0.1:${plainEcho}`, '-plain', '-c', '2', '-d', '300ms']);
    for (const r of [overTls, plain]) {
      assert.equal(r.mode, 'rr');
      assert.equal(r.errors, 0, r.error_sample);
      assert.ok(r.ok > 10 && r.p50_ms > 0 && r.p50_ms <= r.p99_ms, JSON.stringify(r));
    }
  });

  it('bulk: every byte of every connection confirmed by the sink', async () => {
    const r = await runLoadgen(bin, 'bulk', ['-addr', `127.0.0.1:${sink}`, '-plain', '-c', '3', '-bytes', '5M']);
    assert.equal(r.errors, 0, r.error_sample);
    assert.equal(r.bytes, 3 * 5 * 1024 * 1024);
    assert.ok((r.MBps as number) > 0);
  });

  it('sink: answers the byte count of a length-prefixed upload from another client', async () => {
    const socket = connect(sink, '127.0.0.1');
    await once(socket, 'connect');
    const body = Buffer.alloc(100_001, 7);
    const header = Buffer.alloc(8);
    header.writeBigUInt64BE(BigInt(body.length));
    socket.end(Buffer.concat([header, body]));
    let answer = '';
    for await (const chunk of socket) answer += String(chunk);
    assert.equal(answer, '100001\n');
  });

  it('idle: says READY once all are open, then finds them all alive after the hold', async () => {
    const { code, stdout, stderr } = await run(bin, ['idle', ...tls(tlsEcho, client), '-c', '25', '-hold', '100ms']);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /^READY 25$/m);
    assert.deepEqual(JSON.parse(stdout), { mode: 'idle', opened: 25, alive_after_hold: 25, errors: 0, error_sample: '' });
  });

  it('bad input: one line naming the flag, exit 1', async () => {
    for (const [args, message] of [
      [['bulk', '-bytes', '12X'], /^loadgen: -bytes "12X": expected a size such as 65536, 64K, 256M or 1G\n$/],
      [['hs', '-ca', '/nonexistent/ca.pem'], /^loadgen: -ca: open \/nonexistent\/ca\.pem: no such file or directory\n$/],
      [['fly'], /^loadgen: unknown mode "fly"; usage: loadgen echo\|sink\|hs\|rr\|bulk\|idle/],
    ] as const) {
      const r = await run(bin, [...args]);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, message);
    }
  });
});
