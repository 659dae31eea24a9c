import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { readFileSync as read } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { readBytes, roundTrip } from '../helpers/clients.ts';
import { runGhostunnel, runToExit, type Daemon } from '../helpers/daemon.ts';
import { dnsResponder, type DnsResponder } from '../helpers/dns-responder.ts';
import { holdingRelay, type HoldingRelay } from '../helpers/holding-relay.ts';
import { connectAcmeTls as connectTls, startPebble, type Pebble } from '../helpers/pebble.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { eventually } from '../helpers/status.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';

const FQDN = 'tunnel.ghostunnel.test';
// Short enough that a renewal (at two thirds of the lifetime) happens during the test.
const VALIDITY_SECONDS = 15;

/**
 * The tunnel obtains its certificate from a real Pebble. Pebble's TLS-ALPN-01 validations resolve
 * FQDN through a DNS responder of the test (-dnsserver: A 127.0.0.1) and connect to the tunnel's
 * own listening port (tlsPort), so the challenge is answered by the tunnel, under mTLS. The daemon
 * reaches Pebble's directory through a relay that holds connections until Pebble is up: the
 * tunnel's port (known once it listens) has to be in Pebble's config before Pebble starts.
 */
describe('server mode with --auto-acme-cert against Pebble', { skip: linuxOnly('runs pebble, the ACME test server') }, () => {
  let trusted: string, dir: string, dataHome: string, clientCa: Ca, client: Issued, backend: Backend, dns: DnsResponder, relay: HoldingRelay, pebble: Pebble, gt: Daemon, port: number;

  before(async () => {
    dir = tempDir('gt-acme-');
    dataHome = join(dir, 'data');
    clientCa = makeCa('client-ca', { dir });
    trusted = join(dir, 'trusted-clients.pem');
    copyFileSync(clientCa.cert, trusted);
    client = issue(clientCa, 'client', { cn: 'client' });
    backend = await echoBackend();
    dns = await dnsResponder();
    relay = await holdingRelay();
    const directoryCa = makeCa('pebble-https-ca', { dir });
    gt = runGhostunnel(
      [
        'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`,
        '--auto-acme-cert', FQDN, '--auto-acme-email', 'ops@ghostunnel.test', '--auto-acme-agree-to-tos',
        '--auto-acme-testca', `https://127.0.0.1:${relay.port}/dir`, '--auto-acme-renew-check-interval', '1s',
        '--cacert', trusted, '--allow-cn', 'client',
      ],
      { env: { NODE_EXTRA_CA_CERTS: directoryCa.cert, XDG_DATA_HOME: dataHome } },
    );
    const obtaining = await gt.waitForLog(/^obtaining a certificate for /, 20_000);
    const tunnelPort = Number(String(obtaining.address).split(':').pop());
    pebble = await startPebble({ tlsPort: tunnelPort, dnsPort: dns.port, validitySeconds: VALIDITY_SECONDS, httpsCa: directoryCa });
    relay.forwardTo(pebble.port);
    ({ port } = await gt.address());
    assert.equal(port, tunnelPort);
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await pebble?.stop();
    await relay.close();
    await dns.close();
    await backend.close();
  });

  it('obtains a certificate over TLS-ALPN-01 answered on the listening port, serves it, and stores it', async () => {
    const answered = await gt.waitForLog(/^answered TLS-ALPN-01 challenge for /);
    assert.equal(answered.fqdn, FQDN);
    assert.ok(dns.questions.includes(`${FQDN} A`), 'Pebble resolved the name through the test resolver');
    const { socket, leaf } = await connectTls(port, { cert: client.cert, key: client.key, servername: FQDN });
    assert.equal(leaf.subjectAltName, `DNS:${FQDN}`);
    assert.match(leaf.issuer, new RegExp(`CN=${pebble.issuerCn}`));
    assert.equal((await roundTrip(socket, 'over an ACME certificate')).toString(), 'over an ACME certificate');
    const stored = join(dataHome, 'ghostunnel-acme', `127.0.0.1_${relay.port}_dir`, 'certificates', FQDN);
    assert.ok(existsSync(join(stored, 'certificate.pem')) && existsSync(join(stored, 'private-key.pem')));
    assert.ok(readFileSync(join(stored, 'certificate.pem'), 'utf8').includes(leaf.toString().trim()));
  });

  it('renews before expiry with a new challenge on the listener, without dropping an open connection', async () => {
    const { socket: open, leaf: firstLeaf } = await connectTls(port, { cert: client.cert, key: client.key, servername: FQDN });
    try {
      const first = firstLeaf.serialNumber;
      open.write('before renewal ');
      assert.equal((await readBytes(open, 15)).toString(), 'before renewal ');

      const mark = gt.lines.findIndex((l) => /^loaded certificate: /.test(l.msg) && l.serial === first) + 1;
      await gt.waitForLog(/^renewing the certificate for /, VALIDITY_SECONDS * 1000, mark);
      const loaded = await gt.waitForLog(/^loaded certificate: /, 20_000, mark);
      assert.notEqual(loaded.serial, first);
      assert.ok(gt.lines.slice(mark).some((l) => /^answered TLS-ALPN-01 challenge for /.test(l.msg)), 'the renewal was validated through the tunnel too');

      const { socket: fresh, leaf: renewed } = await connectTls(port, { cert: client.cert, key: client.key, servername: FQDN });
      assert.equal(renewed.serialNumber, loaded.serial);
      assert.equal((await roundTrip(fresh, 'after renewal')).toString(), 'after renewal');
      open.write('still open');
      assert.equal((await readBytes(open, 10)).toString(), 'still open');
      assert.equal((await roundTrip(open, '.')).toString(), '.');
    } finally {
      open.destroy();
    }
  });

  it('--cacert still reloads on SIGHUP, next to the ACME certificate', async () => {
    const newCa = makeCa('new-client-ca', { dir });
    const newClient = issue(newCa, 'new-client', { cn: 'client' });
    const before = await connectTls(port, { cert: newClient.cert, key: newClient.key, servername: FQDN });
    assert.equal((await roundTrip(before.socket, 'x').catch(() => Buffer.alloc(0))).length, 0);

    copyFileSync(newCa.cert, trusted);
    const mark = gt.lines.length;
    gt.signal('SIGHUP');
    // A renewal may complete meanwhile: wait for the SIGHUP's own outcome.
    const done = await eventually(() => gt.lines.slice(mark).find((l) => /^reloading configuration complete/.test(l.msg) && l.trigger === 'SIGHUP') ?? Promise.reject(new Error('no SIGHUP reload outcome yet')));
    assert.equal(done.changed, true);
    const after = await connectTls(port, { cert: newClient.cert, key: newClient.key, servername: FQDN });
    assert.equal(after.leaf.subjectAltName, `DNS:${FQDN}`);
    assert.equal((await roundTrip(after.socket, 'new client CA')).toString(), 'new client CA');
  });

  it('a ClientHello offering only acme-tls/1 never reaches the backend, even with a good client certificate', async () => {
    const before = backend.accepted();
    const mark = gt.lines.length;
    const got = await new Promise<Buffer>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, servername: FQDN, ALPNProtocols: ['acme-tls/1'], cert: read(client.cert), key: read(client.key), rejectUnauthorized: false });
      socket.once('secureConnect', () => resolve(roundTrip(socket, 'x').catch(() => Buffer.alloc(0))));
      socket.once('error', () => resolve(Buffer.alloc(0)));
    });
    assert.equal(got.length, 0);
    // No challenge pending: refused at once; a renewal's challenge pending: answered and closed.
    await gt.waitForLog(/no pending TLS-ALPN-01 challenge for tunnel\.ghostunnel\.test|^answered TLS-ALPN-01 challenge/, 10_000, mark);
    assert.equal(backend.accepted(), before);
  });

  it('a client without a certificate is still refused while ACME validations get through', async () => {
    const refused = await connectTls(port, { servername: FQDN }).then(
      ({ socket }) => roundTrip(socket, 'x').catch(() => Buffer.alloc(0)),
      () => Buffer.alloc(0),
    );
    assert.equal(refused.length, 0);
  });
});

describe('--auto-acme-* validation', () => {
  const base = ['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:9', '--allow-all', '--auto-acme-cert', FQDN];
  it('needs an email address and agreement to the terms of service', async () => {
    const noEmail = await runToExit([...base, '--auto-acme-agree-to-tos']);
    assert.equal(noEmail.code, 1);
    assert.equal(noEmail.stderr, 'error: --auto-acme-cert was specified but no email address was provided with --auto-acme-email\n');
    const noTos = await runToExit([...base, '--auto-acme-email', 'ops@ghostunnel.test']);
    assert.equal(noTos.code, 1);
    assert.equal(noTos.stderr, 'error: --auto-acme-agree-to-tos was not specified and is required if --auto-acme-cert is specified\n');
    const both = await runToExit([...base, '--auto-acme-email', 'ops@ghostunnel.test', '--auto-acme-agree-to-tos', '--keystore', 'x.p12']);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /--keystore, --cert\/--key, --auto-acme-cert, and --keychain-identity\/issuer flags are mutually exclusive/);
  });
});
