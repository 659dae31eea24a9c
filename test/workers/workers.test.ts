// --workers N: N event loops accept on one listening socket and behave as one daemon: every loop
// serves, a reload is in force on every loop once it is reported, metrics and the connection count
// add up, --max-concurrent-conns counts all loops, and a drain waits for every loop's connections.
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import parsePrometheus from 'parse-prometheus-text-format';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, peerSerial, readBytes, roundTrip } from '../helpers/clients.ts';
import { runGhostunnel, runToExit, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { curl, eventually, promValue, statusAddress, type PromFamily } from '../helpers/status.ts';
import { tlsTarget, type TlsTarget } from '../helpers/tls-target.ts';

/** Which loop served each "opening pipe" line: 0 for the main thread, N for worker N. */
function servingLoops(gt: Daemon, from = 0): Set<number> {
  return new Set(gt.lines.slice(from).filter((l) => l.msg.startsWith('opening pipe:')).map((l) => (typeof l.worker === 'number' ? l.worker : 0)));
}

describe('--workers', { skip: linuxOnly('--workers shares the listening descriptor') }, () => {
  let ca: Ca, server: Issued, client: Issued, backend: Backend;
  let dir: string, certPath: string, keyPath: string;

  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
    dir = tempDir('gt-workers-');
    certPath = join(dir, 'server.crt');
    keyPath = join(dir, 'server.key');
  });
  after(() => backend.close());

  const start = (extra: string[]): Daemon => {
    copyFileSync(server.cert, certPath);
    copyFileSync(server.key, keyPath);
    return runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', certPath, '--key', keyPath, '--cacert', ca.cert, '--allow-cn', 'client', ...extra]);
  };
  const tls = (port: number): Promise<TLSSocket> => connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
  /** Writes `text` on an open connection and reads its echo; the connection stays open. */
  const echo = async (s: TLSSocket, text: string): Promise<string> => {
    const got = readBytes(s, text.length);
    s.write(text);
    return (await got).toString();
  };
  /** `count` connections at once, each echoing its own bytes; resolves with the server serial each one saw. */
  const burst = (port: number, count: number): Promise<string[]> =>
    Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const s = await tls(port);
        const serial = peerSerial(s);
        assert.equal((await roundTrip(s, `hello ${i}`)).toString(), `hello ${i}`);
        return serial;
      }),
    );

  it('serves on every loop, and the metrics count the connections of all of them', async () => {
    const gt = start(['--workers', '3', '--status', 'http://127.0.0.1:0']);
    try {
      const { port } = await gt.address();
      assert.ok(gt.lines.some((l) => l.msg === 'serving on 3 event loops (--workers)'));
      let made = 0;
      // Which loop accepts is the kernel's choice: bursts until more than one loop has served.
      for (let round = 0; round < 20 && servingLoops(gt).size < 2; round++) {
        await burst(port, 16);
        made += 16;
        await gt.waitForLog(/^closed pipe:/, 10_000, gt.lines.length - 1).catch(() => {});
      }
      assert.ok(servingLoops(gt).size >= 2, `more than one loop served; saw ${[...servingLoops(gt)]}`);
      assert.ok([...servingLoops(gt)].every((loop) => loop >= 0 && loop < 3));
      const addr = await statusAddress(gt);
      await eventually(async () => {
        const families = parsePrometheus((await curl([`http://${addr}/_metrics?format=prometheus`])).body) as PromFamily[];
        assert.equal(promValue(families, 'ghostunnel_accept_total'), made);
        assert.equal(promValue(families, 'ghostunnel_accept_success'), made);
        assert.equal(promValue(families, 'ghostunnel_conn_open'), 0);
      });
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  });

  it('a reload is in force on every loop once it is reported', async () => {
    const gt = start(['--workers', '3']);
    try {
      const { port } = await gt.address();
      assert.deepEqual(new Set(await burst(port, 16)), new Set([server.serial]));
      const next = issue(ca, 'server-next', { cn: 'localhost' });
      copyFileSync(next.cert, certPath);
      copyFileSync(next.key, keyPath);
      const from = gt.lines.length;
      gt.signal('SIGHUP');
      await gt.waitForLog(/^reloading configuration complete$/, 20_000, from);
      const mark = gt.lines.length;
      const seen = new Set<string>();
      for (let round = 0; round < 10 && servingLoops(gt, mark).size < 2; round++) for (const serial of await burst(port, 16)) seen.add(serial);
      assert.deepEqual(seen, new Set([next.serial]), 'every connection after the reload got the new certificate');
      assert.ok(servingLoops(gt, mark).size >= 2, 'the new certificate came from more than one loop');
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  });

  it('SIGTERM drains the connections of every loop, then exits 0', async () => {
    const gt = start(['--workers', '2']);
    const { port } = await gt.address();
    const open: TLSSocket[] = [];
    for (let i = 0; i < 40 && servingLoops(gt).size < 2; i++) {
      const s = await tls(port);
      assert.equal(await echo(s, 'ping'), 'ping');
      open.push(s);
    }
    assert.equal(servingLoops(gt).size, 2, 'connections open on both loops');
    gt.signal('SIGTERM');
    await gt.waitForLog(/^shutdown proxy, waiting for drain$/);
    const refused = await new Promise<string>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => (s.destroy(), resolve('connected')));
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    assert.equal(refused, 'ECONNREFUSED', 'no loop accepts any more');
    for (const s of open) assert.equal(await echo(s, 'drain'), 'drain');
    assert.equal(gt.proc.exitCode, null, 'still running while connections are open');
    for (const s of open.slice(1)) s.end();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(gt.proc.exitCode, null, 'waits for the last connection, whichever loop has it');
    open[0]!.end();
    assert.equal(await gt.exited(), 0);
    assert.ok(gt.lines.some((l) => l.msg === 'drain complete, exiting'));
  });

  it('--max-concurrent-conns counts the connections of all loops', async () => {
    const gt = start(['--workers', '3', '--max-concurrent-conns', '2']);
    try {
      const { port } = await gt.address();
      const first = [await tls(port), await tls(port)];
      for (const s of first) assert.equal(await echo(s, 'in'), 'in');
      // The third handshake waits in the backlog: no loop accepts it while two are open.
      const third = tls(port);
      let settled = false;
      void third.then(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(settled, false, 'the third connection is not served while two are open');
      first[0]!.end();
      const s = await third;
      assert.equal((await roundTrip(s, 'third')).toString(), 'third');
      first[1]!.end();
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  });

  it('client mode: every loop dials the TLS target', async () => {
    const target: TlsTarget = await tlsTarget({ cert: server.cert, key: server.key, ca: ca.cert });
    const gt = runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', `localhost:${target.port}`, '--cert', client.cert, '--key', client.key, '--cacert', ca.cert, '--workers', '2']);
    try {
      const { port } = await gt.address();
      for (let round = 0; round < 20 && servingLoops(gt).size < 2; round++) {
        await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            new Promise<void>((resolve, reject) => {
              const s = connect({ port, host: '127.0.0.1' });
              let got = '';
              s.on('data', (d) => (got += d));
              s.once('end', () => (got === `plain ${i}` ? resolve() : reject(new Error(`echo was ${JSON.stringify(got)}`))));
              s.once('error', reject);
              s.end(`plain ${i}`);
            }),
          ),
        );
      }
      assert.equal(servingLoops(gt).size, 2);
      assert.ok(target.seen.length > 0 && target.seen.every((c) => c.serial === client.serial), 'every loop presented the client certificate');
    } finally {
      assert.equal(await gt.stop(), 0);
      await target.close();
    }
  });

  for (const value of ['0', 'two', '1000', '-1']) {
    it(`--workers ${value}: exit 1 before anything binds`, async () => {
      const r = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:9', '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-all', '--workers', value]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`invalid --workers "${value}": expected a number of threads from 1 to 256, or auto`));
      assert.ok(!r.lines.some((l) => l.msg.startsWith('listening for connections')));
    });
  }
});
