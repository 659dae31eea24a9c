import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { sha256 } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { collect, connectPlain, plainExchange } from '../helpers/plain-client.ts';
import { unixOnly } from '../helpers/platform.ts';
import { requireProgram } from '../helpers/programs.ts';
import { tlsTarget } from '../helpers/tls-target.ts';

/** A client tunnel on 127.0.0.1:0 (unless `listen` says otherwise) to `target`; resolves once it listens. */
async function clientTunnel(target: string, args: string[], listen = '127.0.0.1:0'): Promise<{ gt: Daemon; port: number }> {
  const gt = runGhostunnel(['client', '--listen', listen, '--target', target, ...args]);
  const { port } = await gt.address();
  return { gt, port };
}

describe('client mode: our client tunnel to our server tunnel, mutual TLS both ways', () => {
  let ca: Ca, server: Issued, client: Issued, backend: Backend, srv: Daemon, srvPort: number;
  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'server' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
    srv = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--keystore', server.pem, '--cacert', ca.cert, '--allow-cn', 'client']);
    ({ port: srvPort } = await srv.address());
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
    await backend.close();
  });

  it('carries bytes both ways; each side logs the certificate the other presented', async () => {
    const { gt, port } = await clientTunnel(`localhost:${srvPort}`, ['--keystore', client.pem, '--cacert', ca.cert, '--verify-cn', 'server']);
    try {
      const payload = randomBytes(1 << 20);
      const r = await plainExchange(port, payload);
      assert.equal(r.closed, true);
      assert.equal(r.data.length, payload.length);
      assert.equal(sha256(r.data), sha256(payload));
      const clientSide = await gt.waitForLog(/^closed pipe:/);
      assert.match(clientSide.msg, /\[no tls\] <-> tcp:localhost:\d+ \[CN=server\] \[forwarded 1\.0 MiB, returned 1\.0 MiB/);
      const serverSide = await srv.waitForLog(/^opening pipe: .*\[CN=client\]/);
      assert.equal(serverSide.subject, 'CN=client');
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  });

  it('listens on a UNIX socket', { skip: unixOnly('listens on a UNIX socket') }, async () => {
    const path = join(tempDir(), 'client.sock');
    const gt = runGhostunnel(['client', '--listen', `unix:${path}`, '--target', `localhost:${srvPort}`, '--cert', client.cert, '--key', client.key, '--cacert', ca.cert]);
    try {
      await gt.address();
      const r = await plainExchange(path, 'over a unix socket');
      assert.equal(r.data.toString(), 'over a unix socket');
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  });
});

describe('client mode: openssl s_server -Verify 1 as the target', () => {
  it('sees our client certificate and exchanges bytes both ways', async () => {
    const ca = makeCa();
    const server = issue(ca, 'server', { cn: 'server' });
    const client = issue(ca, 'client', { cn: 'client', ou: 'tunnels' });
    requireProgram('openssl');
    const s = spawn('openssl', ['s_server', '-accept', '127.0.0.1:0', '-cert', server.cert, '-key', server.key, '-CAfile', ca.cert, '-Verify', '1', '-naccept', '1'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    s.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    s.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exited = new Promise<number | null>((r) => s.on('exit', r));
    const waitFor = async (re: RegExp): Promise<RegExpExecArray> => {
      for (let i = 0; i < 500; i++) {
        const m = re.exec(out);
        if (m) return m;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`s_server never printed ${re}:\n${out}`);
    };
    const sPort = Number((await waitFor(/ACCEPT 127\.0\.0\.1:(\d+)/))[1]);
    const { gt, port } = await clientTunnel(`127.0.0.1:${sPort}`, ['--cert', client.cert, '--key', client.key, '--cacert', ca.cert]);
    try {
      const local = await connectPlain(port);
      const answer = collect(local);
      local.write('hello s_server\n');
      await waitFor(/^hello s_server$/m);
      s.stdin.write('hello tunnel\n');
      await new Promise<void>((r) => local.once('data', () => r()));
      local.end();
      s.stdin.end();
      const pem = (await waitFor(/Client certificate\n(-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----)/))[1]!;
      const seen = new X509Certificate(pem);
      assert.equal(seen.serialNumber, client.serial);
      assert.match(out, /verify return:1\n[\s\S]*subject=CN = client, OU = tunnels/);
      assert.equal((await answer).data.toString(), 'hello tunnel\n');
    } finally {
      s.kill();
      await exited;
      assert.equal(await gt.stop(), 0);
    }
  });
});

describe('client mode against a TLS server of our own (what it presents and sends)', () => {
  let ca: Ca, server: Issued, client: Issued;
  before(() => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'server', dns: ['localhost', 'other.example'], ips: ['127.0.0.1'] });
    client = issue(ca, 'client', { cn: 'client' });
  });

  it('--disable-authentication presents no certificate; a keystore presents its own', async () => {
    const target = await tlsTarget({ cert: server.cert, key: server.key, ca: ca.cert });
    const anon = await clientTunnel(`localhost:${target.port}`, ['--disable-authentication', '--cacert', ca.cert]);
    const withCert = await clientTunnel(`localhost:${target.port}`, ['--keystore', client.pem, '--cacert', ca.cert]);
    try {
      assert.equal((await plainExchange(anon.port, 'anonymous')).data.toString(), 'anonymous');
      assert.equal((await plainExchange(withCert.port, 'with cert')).data.toString(), 'with cert');
      assert.deepEqual(
        target.seen.map((c) => c.serial),
        [undefined, client.serial],
      );
    } finally {
      assert.equal(await anon.gt.stop(), 0);
      assert.equal(await withCert.gt.stop(), 0);
      await target.close();
    }
  });

  it('sends the target host as SNI, --override-server-name instead, and no SNI for an IP literal', async () => {
    const target = await tlsTarget({ cert: server.cert, key: server.key });
    const byName = await clientTunnel(`localhost:${target.port}`, ['--disable-authentication', '--cacert', ca.cert]);
    const overridden = await clientTunnel(`localhost:${target.port}`, ['--disable-authentication', '--cacert', ca.cert, '--override-server-name', 'other.example']);
    const byIp = await clientTunnel(`127.0.0.1:${target.port}`, ['--disable-authentication', '--cacert', ca.cert]);
    try {
      for (const t of [byName, overridden, byIp]) assert.equal((await plainExchange(t.port, 'sni?')).data.toString(), 'sni?');
      assert.deepEqual(
        target.seen.map((c) => c.servername),
        ['localhost', 'other.example', false],
      );
    } finally {
      for (const t of [byName, overridden, byIp]) assert.equal(await t.gt.stop(), 0);
      await target.close();
    }
  });

  it('half-close: the local client ends, and the answer written after that still arrives', async () => {
    const target = await tlsTarget({
      cert: server.cert,
      key: server.key,
      onSecure: (s: TLSSocket) => {
        let got = '';
        s.setEncoding('utf8').on('data', (c: string) => (got += c));
        s.on('end', () => setTimeout(() => s.end(`after your end: ${got}`), 200));
      },
    });
    const { gt, port } = await clientTunnel(`localhost:${target.port}`, ['--disable-authentication', '--cacert', ca.cert]);
    try {
      const r = await plainExchange(port, 'question');
      assert.equal(r.data.toString(), 'after your end: question');
      assert.equal(r.closed, true);
    } finally {
      assert.equal(await gt.stop(), 0);
      await target.close();
    }
  });

  it('half-close: the target ends first, and the local client can still send afterwards', async () => {
    let afterEnd = '';
    let delivered!: () => void;
    const done = new Promise<void>((r) => (delivered = r));
    const target = await tlsTarget({
      cert: server.cert,
      key: server.key,
      onSecure: (s: TLSSocket) => {
        s.setEncoding('utf8').on('data', (c: string) => (afterEnd += c));
        s.on('end', () => delivered());
        s.end('banner, then I stop talking');
      },
    });
    const { gt, port } = await clientTunnel(`localhost:${target.port}`, ['--disable-authentication', '--cacert', ca.cert]);
    try {
      const local = await connectPlain(port);
      const banner = await new Promise<string>((resolve) => {
        let text = '';
        local.setEncoding('utf8').on('data', (c: string) => (text += c));
        local.once('end', () => resolve(text));
      });
      assert.equal(banner, 'banner, then I stop talking');
      local.end('still here after your end');
      await done;
      assert.equal(afterEnd, 'still here after your end');
    } finally {
      assert.equal(await gt.stop(), 0);
      await target.close();
    }
  });
});
