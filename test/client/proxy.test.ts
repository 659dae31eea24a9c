// Client mode through real outbound proxies, to a target name only the proxy resolves.
//
// How "only the proxy can resolve it" is arranged: the client daemon runs with
// test/helpers/no-dns-hook.ts preloaded, which makes every name lookup in that process fail (and
// report the name on stderr), while the proxy resolves with the system resolver as usual. The target
// is "localhost:PORT", so the proxy can reach it, and a tunnel that works proves the client handed
// the name over unresolved. Nothing on the machine changes (no /etc/hosts edit, no namespaces,
// which CI containers may not allow); a control case shows the hook does block the client.
import assert from 'node:assert/strict';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';
import { plainExchange } from '../helpers/plain-client.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { startMicrosocks, startTinyproxy, type ProxyProcess } from '../helpers/proxies.ts';
import { tlsTarget } from '../helpers/tls-target.ts';

const NO_DNS = fileURLToPath(new URL('../helpers/no-dns-hook.ts', import.meta.url));

describe('client mode through outbound proxies', { skip: linuxOnly('runs tinyproxy, microsocks and danted') }, () => {
  let ca: Ca, server: Issued, client: Issued, backend: Backend, srv: Daemon, srvPort: number;
  let tinyproxy: ProxyProcess, socks: ProxyProcess, socksAuth: ProxyProcess;

  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'server', dns: ['localhost'] });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
    srv = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--keystore', server.pem, '--cacert', ca.cert, '--allow-cn', 'client']);
    [{ port: srvPort }, tinyproxy, socks, socksAuth] = await Promise.all([srv.address(), startTinyproxy(), startMicrosocks(), startMicrosocks({ user: 'alice', password: 's3cret:/@' })]);
  });
  after(async () => {
    await Promise.all([tinyproxy.stop(), socks.stop(), socksAuth.stop()]);
    assert.equal(await srv.stop(), 0);
    await backend.close();
  });

  /** Starts a client tunnel that cannot resolve names itself, runs one exchange, stops it. */
  const through = async (args: string[]): Promise<{ answer: string; closed: boolean; gt: Daemon }> => {
    const gt = runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', `localhost:${srvPort}`, '--keystore', client.pem, '--cacert', ca.cert, ...args], {
      nodeArgs: ['--import', NO_DNS],
    });
    try {
      const { port } = await gt.address();
      const r = await plainExchange(port, 'via the proxy');
      if (r.data.length === 0) await gt.waitForLog(/^error on dial:/);
      return { answer: r.data.toString(), closed: r.closed, gt };
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  };

  it('control: without a proxy the client cannot resolve the target name', async () => {
    const { answer, gt } = await through(['--skip-resolve']);
    assert.equal(answer, '');
    assert.ok(gt.lines.some((l) => l.msg === 'error on dial: dial tcp: lookup localhost: no such host'));
    assert.match(gt.stderr(), /^no-dns: localhost$/m);
  });

  it('HTTP CONNECT through tinyproxy, which resolves the name', async () => {
    const { answer, gt } = await through(['--proxy', `http://127.0.0.1:${tinyproxy.port}`]);
    assert.equal(answer, 'via the proxy');
    assert.doesNotMatch(gt.stderr(), /no-dns:/);
    assert.match(tinyproxy.output(), new RegExp(`CONNECT localhost:${srvPort} HTTP/1\\.1`));
    assert.match(tinyproxy.output(), new RegExp(`opensock: getaddrinfo returned for localhost:${srvPort}`));
  });

  it('--connect-proxy is the same flag', async () => {
    const { answer, gt } = await through(['--connect-proxy', `http://127.0.0.1:${tinyproxy.port}`]);
    assert.equal(answer, 'via the proxy');
    assert.doesNotMatch(gt.stderr(), /no-dns:/);
  });

  it('a CONNECT the proxy refuses closes the local connection and logs the status', async () => {
    const gt = runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', 'localhost:1', '--keystore', client.pem, '--cacert', ca.cert, '--proxy', `http://127.0.0.1:${tinyproxy.port}`]);
    try {
      const r = await plainExchange((await gt.address()).port, 'nowhere');
      assert.equal(r.closed, true);
      assert.equal(r.data.length, 0);
      const line = await gt.waitForLog(/^error on dial:/);
      assert.equal(line.msg, `error on dial: proxy http://127.0.0.1:${tinyproxy.port} refused CONNECT localhost:1: 500 Unable to connect`);
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  });

  for (const scheme of ['socks5', 'socks5h']) {
    it(`SOCKS5 through microsocks without credentials (${scheme}://)`, async () => {
      const { answer, gt } = await through(['--proxy', `${scheme}://127.0.0.1:${socks.port}`]);
      assert.equal(answer, 'via the proxy');
      assert.doesNotMatch(gt.stderr(), /no-dns:/);
    });
  }

  it('SOCKS5 through microsocks with user and password from the URL', async () => {
    const { answer, gt } = await through(['--proxy', `socks5://alice:${encodeURIComponent('s3cret:/@')}@127.0.0.1:${socksAuth.port}`]);
    assert.equal(answer, 'via the proxy');
    assert.doesNotMatch(gt.stderr(), /no-dns:/);
  });

  it('half-close through either proxy: the answer written after our end still arrives, then the pipe closes', async () => {
    const target = await tlsTarget({
      cert: server.cert,
      key: server.key,
      onSecure: (s: TLSSocket) => {
        let got = '';
        s.setEncoding('utf8').on('data', (c: string) => (got += c));
        s.on('end', () => setTimeout(() => s.end(`answer to "${got}" after your end`), 100));
      },
    });
    try {
      for (const proxy of [`http://127.0.0.1:${tinyproxy.port}`, `socks5://127.0.0.1:${socks.port}`]) {
        const gt = runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', `localhost:${target.port}`, '--keystore', client.pem, '--cacert', ca.cert, '--proxy', proxy]);
        try {
          const r = await plainExchange((await gt.address()).port, 'question');
          assert.equal(r.data.toString(), 'answer to "question" after your end', proxy);
          assert.match((await gt.waitForLog(/^closed pipe:/)).msg, /\[forwarded 8 bytes, returned 35 bytes,/);
        } finally {
          assert.equal(await gt.stop(), 0);
        }
      }
    } finally {
      await target.close();
    }
  });

  it('SOCKS5 with a wrong password: the local connection closes and the log says why', async () => {
    const { answer, closed, gt } = await through(['--proxy', `socks5://alice:wrong@127.0.0.1:${socksAuth.port}`]);
    assert.equal(answer, '');
    assert.equal(closed, true);
    const line = gt.lines.find((l) => /^error on dial:/.test(l.msg));
    assert.equal(line?.msg, `error on dial: proxy socks5://127.0.0.1:${socksAuth.port}: Socks5 Authentication failed`);
    assert.doesNotMatch(gt.stdout(), /wrong/);
  });

  it('SOCKS5 without the credentials the proxy requires is refused', async () => {
    const { answer, gt } = await through(['--proxy', `socks5://127.0.0.1:${socksAuth.port}`]);
    assert.equal(answer, '');
    assert.match(gt.lines.find((l) => /^error on dial:/.test(l.msg))!.msg, new RegExp(`^error on dial: proxy socks5://127\\.0\\.0\\.1:${socksAuth.port}: `));
  });
});
