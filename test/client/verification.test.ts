import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';
import { plainExchange } from '../helpers/plain-client.ts';

/** A plain backend that counts the bytes reaching it and echoes them. */
async function countingBackend(): Promise<{ port: number; bytes(): number; close(): Promise<void> }> {
  let bytes = 0;
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('data', (c: Buffer) => (bytes += c.length));
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    bytes: () => bytes,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A TCP server that accepts and then says nothing: a target or proxy that never answers. */
async function silentServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.on('error', () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

async function closedPort(): Promise<number> {
  const { server, port } = await silentServer();
  await new Promise((r) => server.close(r));
  return port;
}

describe('client mode: verification of the target', () => {
  let ca: Ca, otherCa: Ca, server: Issued, client: Issued;
  let backend: Awaited<ReturnType<typeof countingBackend>>;
  let srv: Daemon, target: string;
  const clients: Daemon[] = [];

  const start = async (args: string[]): Promise<{ gt: Daemon; port: number }> => {
    const gt = runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', target, '--keystore', client.pem, ...args]);
    clients.push(gt);
    return { gt, port: (await gt.address()).port };
  };

  before(async () => {
    ca = makeCa();
    otherCa = makeCa('other-ca');
    server = issue(ca, 'server', { cn: 'server', ou: 'edge', dns: ['localhost', 'server.internal'], ips: ['127.0.0.1'], uris: ['spiffe://example.org/service/server'] });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await countingBackend();
    srv = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--keystore', server.pem, '--cacert', ca.cert, '--allow-all']);
    target = `localhost:${(await srv.address()).port}`;
  });
  after(async () => {
    for (const gt of clients) assert.equal(await gt.stop(), 0);
    assert.equal(await srv.stop(), 0);
    await backend.close();
  });

  // The CA files exist only once before() ran, so each case names them through `cas`.
  type Cas = { ca: string; other: string };
  const denied = /^error on dial: unauthorized: invalid principal, or principal not allowed$/;
  // The server sends its CA along with its certificate, so OpenSSL meets an untrusted self-signed root.
  const unknownIssuer = /^error on dial: certificate verification failed: self-signed certificate in certificate chain \(SELF_SIGNED_CERT_IN_CHAIN\)$/;
  const refusals: Array<{ name: string; args: (cas: Cas) => string[]; log: RegExp }> = [
    { name: 'a CA that did not sign the server', args: (c) => ['--cacert', c.other], log: unknownIssuer },
    { name: 'the system roots (no --cacert)', args: () => [], log: unknownIssuer },
    {
      name: 'a server name the certificate does not hold',
      args: (c) => ['--cacert', c.ca, '--override-server-name', 'wrong.example'],
      log: /^error on dial: certificate verification failed: Hostname\/IP does not match certificate's altnames: Host: wrong\.example\. is not in the cert's altnames: .*\(ERR_TLS_CERT_ALTNAME_INVALID\)$/,
    },
    { name: '--verify-cn mismatch', args: (c) => ['--cacert', c.ca, '--verify-cn', 'not-server'], log: denied },
    { name: '--verify-ou mismatch', args: (c) => ['--cacert', c.ca, '--verify-ou', 'core'], log: denied },
    { name: '--verify-dns mismatch', args: (c) => ['--cacert', c.ca, '--verify-dns', 'other.internal'], log: denied },
    { name: '--verify-ip mismatch', args: (c) => ['--cacert', c.ca, '--verify-ip', '10.1.2.3'], log: denied },
    { name: '--verify-uri mismatch', args: (c) => ['--cacert', c.ca, '--verify-uri', 'spiffe://example.org/service/other'], log: denied },
  ];

  for (const { name, args, log } of refusals) {
    it(`refuses ${name}: the local connection closes, nothing reaches the backend, the log says why`, async () => {
      const { gt, port } = await start(args({ ca: ca.cert, other: otherCa.cert }));
      const r = await plainExchange(port, 'must not arrive');
      assert.equal(r.closed, true);
      assert.equal(r.data.length, 0);
      const line = await gt.waitForLog(/^error on dial:/);
      assert.match(line.msg, log);
      assert.equal(line.level, 'warn');
      assert.equal(backend.bytes(), 0);
      assert.equal(gt.lines.some((l) => /^opening pipe/.test(l.msg)), false);
    });
  }

  const admissions: Array<{ name: string; args: string[] }> = [
    { name: 'no --verify-* flag', args: [] },
    { name: '--verify-cn', args: ['--verify-cn', 'server'] },
    { name: '--verify-ou', args: ['--verify-ou', 'edge'] },
    { name: '--verify-dns', args: ['--verify-dns', 'server.internal'] },
    { name: '--verify-ip (another spelling of the same address)', args: ['--verify-ip', '::ffff:127.0.0.1'] },
    { name: '--verify-uri with a wildcard', args: ['--verify-uri', 'spiffe://example.org/service/*'] },
    { name: 'several rules, one of which matches (OR)', args: ['--verify-cn', 'nobody', '--verify-dns-san', 'server.internal'] },
  ];
  for (const { name, args } of admissions) {
    it(`admits a server matching ${name}`, async () => {
      const { gt, port } = await start(['--cacert', ca.cert, ...args]);
      const before = backend.bytes();
      const r = await plainExchange(port, 'allowed through');
      assert.equal(r.data.toString(), 'allowed through');
      assert.equal(backend.bytes() - before, 'allowed through'.length);
      assert.match((await gt.waitForLog(/^opening pipe/)).msg, /\[CN=server,OU=edge\]$/);
    });
  }
});

describe('client mode: failed dials close the local connection and say why', () => {
  let ca: Ca, client: Issued;
  before(() => {
    ca = makeCa();
    client = issue(ca, 'client', { cn: 'client' });
  });

  const attempt = async (target: string, extra: string[]): Promise<{ msg: string; closed: boolean; data: Buffer }> => {
    const gt = runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', target, '--keystore', client.pem, '--cacert', ca.cert, ...extra]);
    try {
      const { port } = await gt.address();
      const r = await plainExchange(port, 'hello?', { end: false });
      const line = await gt.waitForLog(/^error on dial:/);
      return { msg: line.msg, closed: r.closed, data: r.data };
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  };

  it('a refused TCP connection', async () => {
    const r = await attempt(`127.0.0.1:${await closedPort()}`, []);
    assert.equal(r.closed, true);
    assert.match(r.msg, /^error on dial: dial tcp 127\.0\.0\.1:\d+: connect: connection refused$/);
  });

  it('a target that never answers the TLS handshake: --connect-timeout', async () => {
    const { server, port } = await silentServer();
    try {
      const r = await attempt(`127.0.0.1:${port}`, ['--connect-timeout', '300ms']);
      assert.equal(r.closed, true);
      assert.equal(r.msg, 'error on dial: timed out (--connect-timeout)');
    } finally {
      server.close();
    }
  });

  it('a proxy that never answers: the same --connect-timeout covers it', async () => {
    const { server, port } = await silentServer();
    try {
      const r = await attempt('localhost:443', ['--connect-timeout', '300ms', '--proxy', `http://127.0.0.1:${port}`]);
      assert.equal(r.closed, true);
      assert.equal(r.msg, 'error on dial: timed out (--connect-timeout)');
    } finally {
      server.close();
    }
  });

  it('a target that does not speak TLS', async () => {
    const server = createServer((s) => {
      s.on('error', () => {});
      s.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const r = await attempt(`127.0.0.1:${(server.address() as AddressInfo).port}`, []);
      assert.equal(r.closed, true);
      assert.match(r.msg, /^error on dial: tls: /);
    } finally {
      server.close();
    }
  });
});
