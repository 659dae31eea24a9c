// Server mode refuses a client inside the TLS handshake, as Ghostunnel does: real clients (curl,
// openssl s_client, Node.js) see a TLS alert naming why, no session ticket, and nothing reaches the
// backend. With the old refusal after the handshake, curl said "Empty reply from server" and
// s_client saved a resumable session.
//
// The node data plane has no hook inside Node's handshake (docs/data-plane.md): it decides once the
// handshake is over and closes the connection, with no alert. A verdict given at once closes it
// before Node writes the handshake's last flight, so a TLS 1.2 client sees its handshake cut off
// and a TLS 1.3 client gets no session ticket; a verdict given later (OPA) lets the handshake
// complete first. The same decision is logged, and nothing reaches the backend, on either plane.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { sClient } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { PLANE } from '../helpers/plane.ts';
import { issue, makeCa, openssl, stamp, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { bundle, cert as fixtureCert, key as fixtureKey, ROOT as FIXTURE_ROOT } from '../opa/fixtures.ts';

interface Curl {
  code: number;
  stderr: string;
  body: string;
}

function curl(port: number, client: { cert: string; key: string }, ca: string, tls: '1.2' | '1.3'): Promise<Curl> {
  const version = tls === '1.2' ? ['--tls-max', '1.2'] : ['--tlsv1.3'];
  const args = ['-sS', ...version, '--cacert', ca, '--cert', client.cert, '--key', client.key, '--max-time', '10', '--data-binary', 'hello', `https://localhost:${port}/`];
  return new Promise((resolve) => {
    execFile('curl', args, (err, stdout, stderr) => resolve({ code: typeof err?.code === 'number' ? err.code : 0, stderr, body: stdout }));
  });
}

/** How curl ends when the node plane closes a connection it refused: TLS 1.2 cut inside its handshake, TLS 1.3 after it (an empty reply, or a reset when curl's request was unread). */
const NODE_CURL_EXITS = { '1.2': [35], '1.3': [52, 56] } as const;
/** s_client on the node plane: the connection ended before the server's last flight (reset when its "ping" was unread). */
const NODE_S_CLIENT = /unexpected eof while reading|read:errno=104/;

/** s_client with -sess_out: the refusal it reports, and whether it saved a session. */
async function sClientSession(port: number, client: { cert: string; key: string }, ca: string, tls: string): Promise<{ output: string; saved: boolean }> {
  const out = join(tempDir('gt-sess-'), 'session.pem');
  const r = await sClient(port, [tls, '-cert', client.cert, '-key', client.key, '-CAfile', ca, '-sess_out', out], 'ping\n', { timeoutMs: 5000 });
  return { output: r.stdout + r.stderr, saved: existsSync(out) && readFileSync(out).length > 0 };
}

describe('server mode: a refused client gets a TLS alert inside the handshake', () => {
  let ca: Ca, server: Issued, client: Issued, selfSigned: { cert: string; key: string }, expired: Issued;
  let backend: Backend, gt: Daemon, port: number;

  before(async () => {
    ca = makeCa('refusal-ca');
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    expired = issue(ca, 'expired', { cn: 'nobody', startDate: stamp(-2 * 86400_000), endDate: stamp(-86400_000) });
    const dir = tempDir('gt-self-');
    selfSigned = { cert: join(dir, 'self.crt'), key: join(dir, 'self.key') };
    openssl(['req', '-x509', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', selfSigned.key, '-out', selfSigned.cert, '-days', '2', '-subj', '/CN=nobody']);
    backend = await echoBackend();
    gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'nobody']);
    ({ port } = await gt.address());
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await backend.close();
  });

  for (const [tls, exit] of [['1.3', 56], ['1.2', 35]] as const) {
    it(`curl over TLS ${tls} with a certificate the access rules refuse: "alert bad certificate", exit ${exit}`, async () => {
      const from = gt.lines.length;
      const r = await curl(port, client, ca.cert, tls);
      if (PLANE === 'native') {
        assert.equal(r.code, exit, r.stderr);
        assert.match(r.stderr, /alert bad certificate/);
        assert.doesNotMatch(r.stderr, /Empty reply/);
      } else {
        assert.ok((NODE_CURL_EXITS[tls] as readonly number[]).includes(r.code), `curl exit ${r.code}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /alert/);
      }
      assert.equal(r.body, '');
      await gt.waitForLog(/^error on TLS handshake from tcp:127\.0\.0\.1:\d+: unauthorized: invalid principal, or principal not allowed$/, 5000, from);
      assert.equal(backend.accepted(), 0);
    });
  }

  for (const tls of ['-tls1_3', '-tls1_2']) {
    it(`openssl s_client ${tls}, self-signed certificate: alert unknown ca (as Go sends), no session saved`, async () => {
      const from = gt.lines.length;
      const r = await sClientSession(port, selfSigned, ca.cert, tls);
      assert.match(r.output, PLANE === 'native' ? /alert unknown ca/ : NODE_S_CLIENT);
      assert.equal(r.saved, false, 'no session (and so no ticket) was saved');
      await gt.waitForLog(/: certificate verification failed: DEPTH_ZERO_SELF_SIGNED_CERT$/, 5000, from);
    });

    it(`openssl s_client ${tls}, trusted certificate the rules refuse: alert bad certificate, no session saved`, async () => {
      const r = await sClientSession(port, client, ca.cert, tls);
      assert.match(r.output, PLANE === 'native' ? /alert bad certificate/ : NODE_S_CLIENT);
      assert.equal(r.saved, false);
    });
  }

  it('an expired certificate: alert certificate expired (as Go sends)', async () => {
    const from = gt.lines.length;
    const r = await sClientSession(port, expired, ca.cert, '-tls1_3');
    assert.match(r.output, PLANE === 'native' ? /alert certificate expired/ : NODE_S_CLIENT);
    await gt.waitForLog(/: certificate verification failed: CERT_HAS_EXPIRED$/, 5000, from);
    assert.equal(backend.accepted(), 0);
  });
});

describe('server mode: an OPA verdict is awaited inside the handshake', () => {
  let backend: Backend;
  const daemons: Daemon[] = [];
  before(async () => {
    backend = await echoBackend();
  });
  after(async () => {
    for (const d of daemons) assert.equal(await d.stop(), 0);
    await backend.close();
  });
  const start = async (policy: string): Promise<number> => {
    const d = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', fixtureCert('server1'), '--key', fixtureKey('server1'), '--cacert', FIXTURE_ROOT, '--allow-policy', bundle(policy), '--allow-query', 'data.policy.allow']);
    daemons.push(d);
    return (await d.address()).port;
  };
  const who = (peer: 'client1' | 'client2'): { cert: string; key: string } => ({ cert: fixtureCert(peer), key: fixtureKey(peer) });

  it('a denying policy: curl sees "alert bad certificate" over TLS 1.2 and 1.3; an admitting one lets data through', async () => {
    const port = await start('allow-client1.tar.gz');
    for (const tls of ['1.3', '1.2'] as const) {
      const refused = await curl(port, who('client2'), FIXTURE_ROOT, tls);
      if (PLANE === 'native') {
        assert.match(refused.stderr, /alert bad certificate/);
        assert.equal(refused.code, tls === '1.3' ? 56 : 35);
      } else {
        // The verdict comes later: both handshakes completed, then the connection was closed.
        assert.ok([52, 56].includes(refused.code), `curl exit ${refused.code}: ${refused.stderr}`);
        assert.doesNotMatch(refused.stderr, /alert/);
      }
      assert.equal(refused.body, '');
    }
    assert.equal(backend.accepted(), 0);
    const admitted = await sClient(port, ['-cert', fixtureCert('client1'), '-key', fixtureKey('client1'), '-CAfile', FIXTURE_ROOT, '-quiet'], 'through\n', { until: /through/, timeoutMs: 5000 });
    assert.match(admitted.stdout, /through/);
    assert.equal(backend.accepted(), 1);
  });
});

describe('server mode: a resumed session is decided again', () => {
  it('a ticket for a certificate that has since expired does not resume: the full handshake refuses it', async () => {
    const ca = makeCa('resume-ca');
    const server = issue(ca, 'server', { cn: 'localhost' });
    const backend = await echoBackend();
    const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'brief']);
    try {
      const { port } = await gt.address();
      // Valid for a few seconds from now: long enough for a handshake that gets a ticket and one that resumes it.
      const brief = issue(ca, 'brief', { cn: 'brief', startDate: stamp(-3600_000), endDate: stamp(8000) });
      const attempt = (session?: Buffer): Promise<{ reused: boolean; echoed: string; ticket?: Buffer; error?: string }> =>
        new Promise((resolve) => {
          let ticket: Buffer | undefined;
          let echoed = '';
          let reused = false;
          let error: string | undefined;
          const s = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(ca.cert), cert: readFileSync(brief.cert), key: readFileSync(brief.key), session });
          s.on('session', (t: Buffer) => (ticket ??= t));
          s.once('secureConnect', () => {
            reused = s.isSessionReused();
            s.write('again\n');
          });
          s.on('data', (c: Buffer) => {
            echoed += c.toString();
            if (echoed.includes('\n')) s.end();
          });
          s.on('error', (e: Error & { code?: string }) => (error = e.code ?? e.message));
          s.once('close', () => resolve({ reused, echoed, ...(ticket ? { ticket } : {}), ...(error ? { error } : {}) }));
        });
      const first = await attempt();
      assert.equal(first.echoed, 'again\n');
      assert.ok(first.ticket, 'a ticket was issued');
      const resumed = await attempt(first.ticket);
      assert.equal(resumed.reused, true, 'while the certificate is valid, the ticket resumes');
      await new Promise((r) => setTimeout(r, Math.max(0, new Date(new X509Certificate(readFileSync(brief.cert)).validTo).getTime() + 1500 - Date.now())));
      const from = gt.lines.length;
      const late = await attempt(resumed.ticket ?? first.ticket);
      if (PLANE === 'native') {
        assert.equal(late.reused, false, 'the expired certificate does not resume');
        assert.match(late.error ?? '', /CERTIFICATE_EXPIRED/);
      } else {
        // Node cannot refuse a ticket: the session resumes, and is decided (and refused) right after.
        assert.equal(late.reused, true);
        assert.doesNotMatch(late.error ?? '', /CERTIFICATE_EXPIRED/);
      }
      assert.equal(late.echoed, '');
      await gt.waitForLog(/: certificate verification failed: CERT_HAS_EXPIRED$/, 5000, from);
    } finally {
      assert.equal(await gt.stop(), 0);
      await backend.close();
    }
  });
});
