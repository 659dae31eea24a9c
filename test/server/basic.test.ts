import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, roundTrip, sClient } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';

describe('server mode: openssl s_client through the tunnel', () => {
  let ca: Ca, server: Issued, client: Issued, backend: Backend, gt: Daemon, port: number;
  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
    gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'client']);
    ({ port } = await gt.address());
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await backend.close();
  });

  it('echoes bytes for an allowed client certificate', async () => {
    const r = await sClient(port, ['-cert', client.cert, '-key', client.key, '-CAfile', ca.cert, '-quiet'], 'ping-through-tunnel\n', { until: /ping-through-tunnel/ });
    assert.match(r.stdout, /ping-through-tunnel/);
    assert.equal(backend.accepted(), 1);
  });

  it('offers no certificate compression (an OpenSSL client would compress its certificate for every handshake)', async () => {
    const r = await sClient(port, ['-cert', client.cert, '-key', client.key, '-CAfile', ca.cert, '-trace'], 'x\n', { until: /CertificateVerify[\s\S]*Finished/ });
    const request = /CertificateRequest, Length=\d+[\s\S]*?(?=\n {0,4}Certificate, Length|\nReceived Record)/.exec(r.stdout)?.[0];
    assert.ok(request !== undefined, `no CertificateRequest in the trace:\n${r.stdout.slice(0, 4000)}`);
    assert.match(request, /signature_algorithms/);
    // compress_certificate is extension 27; OpenSSL 3.0 prints it as UNKNOWN(27).
    assert.doesNotMatch(request, /extension_type=(compress_certificate|UNKNOWN)\(27\)/);
  });

  it('node TLS client round trip', async () => {
    const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
    assert.equal((await roundTrip(s, 'abc')).toString(), 'abc');
  });
});
