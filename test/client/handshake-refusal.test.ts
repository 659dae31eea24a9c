// Client mode refuses a target inside the TLS handshake: the TLS server behind the tunnel (Python's
// ssl, not Node's and not ours) sees its own handshake fail with our bad_certificate alert, before
// our certificate or Finished reached it. With the old refusal after the handshake, it saw a
// completed handshake followed by EOF.
//
// The node data plane decides once Node's handshake is over (docs/data-plane.md): a verdict given
// at once closes the connection before Node writes our certificate and Finished, so the target
// sees its handshake end with an EOF and no alert; a verdict given later (OPA) comes after they
// were sent, so the target sees a completed handshake and then the end. No data either way.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { PLANE } from '../helpers/plane.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';
import { plainExchange } from '../helpers/plain-client.ts';
import { pythonTlsServer, type PythonTlsServer } from '../helpers/python-tls-server.ts';
import { bundle, cert as fixtureCert, key as fixtureKey, ROOT as FIXTURE_ROOT } from '../opa/fixtures.ts';

const BAD_CERTIFICATE = /ALERT_BAD_CERTIFICATE/;
/** What Python's ssl says of a handshake that ended without an alert. */
const EOF_IN_HANDSHAKE = /UNEXPECTED_EOF_WHILE_READING/;

function spkiPin(certPath: string): string {
  const spki = new X509Certificate(readFileSync(certPath)).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('base64')}`;
}

describe('client mode: a target that fails verification sees the handshake refused with an alert', () => {
  let ca: Ca, client: Issued, server: Issued, other: Issued;
  let trusted: PythonTlsServer, untrusted: PythonTlsServer, opaServer1: PythonTlsServer, opaServer2: PythonTlsServer;
  const daemons: Daemon[] = [];

  before(async () => {
    ca = makeCa('trusted-ca');
    const otherCa = makeCa('other-ca', { dir: `${ca.dir}/..` });
    server = issue(ca, 'server', { cn: 'server', ou: 'edge', dns: ['localhost'], ips: ['127.0.0.1'], uris: ['spiffe://example.org/service/server'] });
    other = issue(otherCa, 'other-server', { cn: 'server', dns: ['localhost'], ips: ['127.0.0.1'] });
    client = issue(ca, 'client', { cn: 'client' });
    [trusted, untrusted, opaServer1, opaServer2] = await Promise.all([
      pythonTlsServer({ cert: server.cert, key: server.key, clientCa: ca.cert }),
      pythonTlsServer({ cert: other.cert, key: other.key, clientCa: ca.cert }),
      pythonTlsServer({ cert: fixtureCert('server1'), key: fixtureKey('server1'), clientCa: FIXTURE_ROOT }),
      pythonTlsServer({ cert: fixtureCert('server2'), key: fixtureKey('server2'), clientCa: FIXTURE_ROOT }),
    ]);
  });
  after(async () => {
    for (const gt of daemons) assert.equal(await gt.stop(), 0);
    for (const s of [trusted, untrusted, opaServer1, opaServer2]) s.close();
  });

  /** A client tunnel to `target` with `args`; one plain exchange through it; what the target saw. */
  const exchange = async (target: PythonTlsServer, args: string[]): Promise<{ gt: Daemon; answer: string; seen: Awaited<ReturnType<PythonTlsServer['handshake']>> }> => {
    const gt = runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', `localhost:${target.port}`, ...args]);
    daemons.push(gt);
    const index = target.seen().length;
    const r = await plainExchange((await gt.address()).port, 'through the tunnel\n');
    return { gt, answer: r.data.toString(), seen: await target.handshake(index) };
  };

  const ours = (): string[] => ['--cert', client.cert, '--key', client.key];
  const refusals: Array<{ name: string; target: () => PythonTlsServer; args: () => string[]; log: RegExp; later?: boolean }> = [
    { name: 'a certificate from a CA we do not trust', target: () => untrusted, args: () => [...ours(), '--cacert', ca.cert], log: /certificate verification failed: unable to verify the first certificate \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/ },
    { name: '--verify-cn', target: () => trusted, args: () => [...ours(), '--cacert', ca.cert, '--verify-cn', 'not-server'], log: /unauthorized: invalid principal/ },
    { name: '--verify-ou', target: () => trusted, args: () => [...ours(), '--cacert', ca.cert, '--verify-ou', 'core'], log: /unauthorized: invalid principal/ },
    { name: '--verify-dns', target: () => trusted, args: () => [...ours(), '--cacert', ca.cert, '--verify-dns', 'other.internal'], log: /unauthorized: invalid principal/ },
    { name: '--verify-ip', target: () => trusted, args: () => [...ours(), '--cacert', ca.cert, '--verify-ip', '10.1.2.3'], log: /unauthorized: invalid principal/ },
    { name: '--verify-uri', target: () => trusted, args: () => [...ours(), '--cacert', ca.cert, '--verify-uri', 'spiffe://example.org/service/other'], log: /unauthorized: invalid principal/ },
    { name: 'a wrong --verify-spki-pin', target: () => trusted, args: () => [...ours(), '--verify-spki-pin', spkiPin(other.cert)], log: /unauthorized: invalid principal/ },
    {
      name: 'an OPA policy that denies it',
      target: () => opaServer2,
      args: () => ['--cert', fixtureCert('client1'), '--key', fixtureKey('client1'), '--cacert', FIXTURE_ROOT, '--verify-policy', bundle('verify-server1.tar.gz'), '--verify-query', 'data.policy.allow'],
      log: /unauthorized: invalid principal/,
      later: true,
    },
    { name: 'an unknown CA, with --disable-authentication', target: () => untrusted, args: () => ['--disable-authentication', '--cacert', ca.cert], log: /certificate verification failed: unable to verify the first certificate \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/ },
  ];
  for (const { name, target, args, log, later } of refusals) {
    it(`refuses ${name}: the target's own handshake fails with bad_certificate, no data`, async () => {
      const { gt, answer, seen } = await exchange(target(), args());
      if (PLANE === 'native') {
        assert.equal(seen.handshake, 'failed', 'the target saw its handshake fail, not complete');
        assert.match(seen.error!, BAD_CERTIFICATE);
      } else if (later) {
        assert.deepEqual(seen, { handshake: 'ok', peer: 'client1' });
      } else {
        assert.equal(seen.handshake, 'failed', 'our last flight was never sent');
        assert.match(seen.error!, EOF_IN_HANDSHAKE);
      }
      assert.equal(answer, '');
      assert.match((await gt.waitForLog(/^error on dial:/)).msg, log);
    });
  }

  const admissions: Array<{ name: string; target: () => PythonTlsServer; args: () => string[]; peer: string }> = [
    { name: 'every --verify-* rule matching', target: () => trusted, args: () => [...ours(), '--cacert', ca.cert, '--verify-cn', 'server', '--verify-ou', 'edge', '--verify-uri', 'spiffe://example.org/service/*'], peer: 'client' },
    { name: 'its --verify-spki-pin', target: () => trusted, args: () => [...ours(), '--verify-spki-pin', spkiPin(server.cert)], peer: 'client' },
    {
      name: 'an OPA policy that admits it',
      target: () => opaServer1,
      args: () => ['--cert', fixtureCert('client1'), '--key', fixtureKey('client1'), '--cacert', FIXTURE_ROOT, '--verify-policy', bundle('verify-server1.tar.gz'), '--verify-query', 'data.policy.allow'],
      peer: 'client1',
    },
  ];
  for (const { name, target, args, peer } of admissions) {
    it(`admits a target matching ${name}: both handshakes complete and data flows`, async () => {
      const { answer, seen } = await exchange(target(), args());
      assert.deepEqual(seen, { handshake: 'ok', peer });
      assert.equal(answer, 'through the tunnel\n');
    });
  }
});
