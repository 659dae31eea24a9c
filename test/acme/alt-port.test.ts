import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { connect as netConnect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { readBytes, roundTrip } from '../helpers/clients.ts';
import { runGhostunnel, runToExit, type Daemon, type LogLine } from '../helpers/daemon.ts';
import { dnsResponder, type DnsResponder } from '../helpers/dns-responder.ts';
import { connectAcmeTls, startPebble, type Pebble } from '../helpers/pebble.ts';
import { issue, makeCa, tempDir, type Issued } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { terminate, waitGone } from '../helpers/processes.ts';

const FQDN = 'alt.ghostunnel.test';
// Short enough that a renewal (at two thirds of the lifetime) happens during the test.
const VALIDITY_SECONDS = 15;

/** A port the kernel just handed out and released: Pebble has to know it before the daemon binds it. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TLS handshake to the validation port: resolves with the negotiated ALPN, rejects with the alert. */
function validationHandshake(port: number, options: ConnectionOptions): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    socket.once('secureConnect', () => {
      resolve(socket.alpnProtocol ?? false);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

/** Like gt.waitForLog, for lines of any process writing to the daemon's stdout (a hand-off successor too). */
async function waitForLine(gt: Daemon, match: (l: LogLine) => boolean, from: number, what: string, timeoutMs = 30_000): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = gt.lines.slice(from).find(match);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no log line ${what}; got:\n${gt.stdout()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * --auto-acme-alt-tls-alpn-port against a real Pebble whose TLS-ALPN-01 validations connect to the
 * alternate port only (its tlsPort), as when the public port 443 is forwarded there: the tunnel's
 * own listener requires client certificates and is never asked.
 */
describe('--auto-acme-alt-tls-alpn-port against Pebble', { skip: linuxOnly('runs pebble, the ACME test server') }, () => {
  let dir: string, client: Issued, backend: Backend, dns: DnsResponder, pebble: Pebble, gt: Daemon, port: number, altPort: number, altAddress: string;
  let successor: number | undefined;
  const answeredLines = (from = 0): LogLine[] => gt.lines.slice(from).filter((l) => /^answered TLS-ALPN-01 challenge for /.test(l.msg));

  before(async () => {
    dir = tempDir('gt-acme-alt-');
    const clientCa = makeCa('client-ca', { dir });
    const trusted = join(dir, 'trusted-clients.pem');
    copyFileSync(clientCa.cert, trusted);
    client = issue(clientCa, 'client', { cn: 'client' }, dir);
    backend = await echoBackend();
    dns = await dnsResponder();
    altPort = await freePort();
    altAddress = `127.0.0.1:${altPort}`;
    pebble = await startPebble({ tlsPort: altPort, dnsPort: dns.port, validitySeconds: VALIDITY_SECONDS });
    gt = runGhostunnel(
      [
        'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`,
        '--auto-acme-cert', FQDN, '--auto-acme-email', 'ops@ghostunnel.test', '--auto-acme-agree-to-tos',
        '--auto-acme-testca', `https://127.0.0.1:${pebble.port}/dir`, '--auto-acme-renew-check-interval', '1s',
        '--auto-acme-alt-tls-alpn-port', String(altPort),
        '--cacert', trusted, '--allow-cn', 'client',
      ],
      { env: { NODE_EXTRA_CA_CERTS: pebble.httpsCa.cert, XDG_DATA_HOME: join(dir, 'data') } },
    );
    ({ port } = await gt.address());
  });
  after(async () => {
    if (successor !== undefined) await terminate(successor);
    await gt.stop();
    await pebble?.stop();
    await dns.close();
    await backend.close();
  });

  it('obtains the first certificate with the challenge answered on the alternate port, bound on --listen\'s host', async () => {
    const bound = await gt.waitForLog(/^answering TLS-ALPN-01 challenges on /);
    assert.equal(bound.address, altAddress);
    const answered = answeredLines();
    assert.ok(answered.length > 0);
    for (const line of answered) assert.deepEqual([line.fqdn, line.address], [FQDN, altAddress]);
    const { socket, leaf } = await connectAcmeTls(port, { cert: client.cert, key: client.key, servername: FQDN });
    assert.equal(leaf.subjectAltName, `DNS:${FQDN}`);
    assert.match(leaf.issuer, new RegExp(`CN=${pebble.issuerCn}`));
    assert.equal((await roundTrip(socket, 'over the ACME certificate')).toString(), 'over the ACME certificate');
  });

  it('renews through the alternate port while the tunnel keeps requiring client certificates', async () => {
    const { socket: open, leaf: firstLeaf } = await connectAcmeTls(port, { cert: client.cert, key: client.key, servername: FQDN });
    try {
      const mark = gt.lines.findIndex((l) => /^loaded certificate: /.test(l.msg) && l.serial === firstLeaf.serialNumber) + 1;
      await gt.waitForLog(/^renewing the certificate for /, VALIDITY_SECONDS * 1000, mark);
      const loaded = await gt.waitForLog(/^loaded certificate: /, 20_000, mark);
      assert.notEqual(loaded.serial, firstLeaf.serialNumber);
      const answered = answeredLines(mark);
      assert.ok(answered.length > 0, 'the renewal was validated through the alternate port');
      for (const line of answered) assert.equal(line.address, altAddress);

      const { socket: fresh, leaf: renewed } = await connectAcmeTls(port, { cert: client.cert, key: client.key, servername: FQDN });
      assert.equal(renewed.serialNumber, loaded.serial);
      assert.equal((await roundTrip(fresh, 'after renewal')).toString(), 'after renewal');
      open.write('still open');
      assert.equal((await readBytes(open, 10)).toString(), 'still open');
      const refused = await connectAcmeTls(port, { servername: FQDN }).then(
        ({ socket }) => roundTrip(socket, 'x').catch(() => Buffer.alloc(0)),
        () => Buffer.alloc(0),
      );
      assert.equal(refused.length, 0, 'a client without a certificate is still refused on the tunnel');
    } finally {
      open.destroy();
    }
  });

  it('refuses anything but a validation with an alert, and never reaches the backend', async () => {
    const accepted = backend.accepted();
    const mark = gt.lines.length;
    const cert = { cert: readFileSync(client.cert), key: readFileSync(client.key) };
    // A tunnel client, even with a good certificate: no application protocol (alert 120).
    await assert.rejects(validationHandshake(altPort, { servername: FQDN, ...cert }), /alert number 120/);
    await assert.rejects(validationHandshake(altPort, { servername: FQDN, ALPNProtocols: ['h2', 'acme-tls/1'] }), /alert number 120/);
    // A validation for a name with no challenge pending: unrecognized name (alert 112).
    await assert.rejects(validationHandshake(altPort, { servername: 'other.ghostunnel.test', ALPNProtocols: ['acme-tls/1'] }), /alert number 112/);
    // Not TLS at all: decode_error (50), as a plaintext alert record.
    const raw = netConnect(altPort, '127.0.0.1');
    raw.end('GET / HTTP/1.0\r\n\r\n');
    const chunks: Buffer[] = [];
    raw.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((resolve) => raw.once('close', resolve));
    assert.deepEqual([...Buffer.concat(chunks)], [21, 3, 3, 0, 2, 2, 50]);

    await waitForLine(gt, (l) => l.msg.endsWith('not a TLS ClientHello'), mark, 'the last refusal');
    const refusals = gt.lines.slice(mark).filter((l) => l.msg.includes(`(TLS-ALPN-01 port ${altAddress})`)).map((l) => l.msg.replace(/^.*\): /, ''));
    assert.deepEqual(refusals, [
      'this port answers TLS-ALPN-01 validations only (ALPN exactly acme-tls/1), the client offered no ALPN',
      'this port answers TLS-ALPN-01 validations only (ALPN exactly acme-tls/1), the client offered h2, acme-tls/1',
      'no pending TLS-ALPN-01 challenge for other.ghostunnel.test',
      'not a TLS ClientHello',
    ]);
    assert.equal(backend.accepted(), accepted);
  });

  it('passes the port to a hand-off successor (SIGUSR2), which answers the next validation there', async () => {
    const mark = gt.lines.length;
    gt.signal('SIGUSR2');
    const handing = await waitForLine(gt, (l) => /^upgrade: successor pid \d+ is accepting, handing over$/.test(l.msg), mark, 'handing over');
    successor = Number(handing.successor);
    assert.equal(await gt.exited(20_000), 0);
    const inherited = await waitForLine(gt, (l) => l.pid === successor && /^answering TLS-ALPN-01 challenges on /.test(l.msg), mark, "the successor's validation port");
    assert.equal(inherited.address, altAddress);
    // The successor renews (or, its stored certificate expired, obtains one) on its own schedule.
    const answered = await waitForLine(gt, (l) => l.pid === successor && /^answered TLS-ALPN-01 challenge for /.test(l.msg), mark, 'a validation answered by the successor', VALIDITY_SECONDS * 2000);
    assert.equal(answered.address, altAddress);
  });

  it('stops accepting on the alternate port when the drain starts, while open connections carry on', async () => {
    assert.ok(successor !== undefined, 'the hand-off test ran first');
    await waitForLine(gt, (l) => l.pid === successor && /^listening for connections on /.test(l.msg), 0, 'the successor listening');
    const { socket: open } = await connectAcmeTls(port, { cert: client.cert, key: client.key, servername: FQDN });
    // Piping before the drain starts (a SIGTERM cancels connections still dialing the backend).
    open.write('open');
    assert.equal((await readBytes(open, 4)).toString(), 'open');
    const mark = gt.lines.length;
    process.kill(successor, 'SIGTERM');
    await waitForLine(gt, (l) => l.pid === successor && /^shutdown proxy, waiting for drain/.test(l.msg), mark, 'the drain starting');
    await assert.rejects(validationHandshake(altPort, { servername: FQDN, ALPNProtocols: ['acme-tls/1'] }), /ECONNREFUSED/);
    open.write('draining');
    assert.equal((await readBytes(open, 8)).toString(), 'draining');
    open.end();
    await waitGone(successor);
  });
});

describe('--auto-acme-alt-tls-alpn-port validation', () => {
  const args = (port: string): string[] => ['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:9', '--allow-all', '--auto-acme-cert', FQDN, '--auto-acme-email', 'ops@ghostunnel.test', '--auto-acme-agree-to-tos', '--auto-acme-testca', 'https://127.0.0.1:1/dir', '--auto-acme-alt-tls-alpn-port', port];

  it('refuses a port above 65535 before anything binds', async () => {
    const r = await runToExit(args('70000'));
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: invalid --auto-acme-alt-tls-alpn-port 70000: a TCP port is 1 to 65535 (0 or unset: challenges on --listen only)\n');
  });

  it('ends start-up with exit 1, naming the flag, when another program holds the port', async () => {
    const holder = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => holder.once('listening', resolve));
    const held = (holder.address() as AddressInfo).port;
    try {
      const r = await runToExit(args(String(held)), { env: { XDG_DATA_HOME: join(tempDir('gt-acme-alt-held-'), 'data') } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`^error: --auto-acme-alt-tls-alpn-port ${held}: unable to listen on 127\\.0\\.0\\.1:${held}: .*address already in use`));
    } finally {
      holder.close();
    }
  });
});
