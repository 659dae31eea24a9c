import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect, type EphemeralKeyInfo, type TLSSocket } from 'node:tls';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { roundTrip, sClient } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { helloRecorder, helloRetried, offeredGroups, type HelloRecorder } from '../helpers/hello-recorder.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';
import { plainExchange } from '../helpers/plain-client.ts';
import { tlsTarget, type TlsTarget } from '../helpers/tls-target.ts';

/**
 * A Node.js 24 (OpenSSL 3.5) mTLS client with the groups of `ecdhCurve` (OpenSSL's default list
 * when undefined: key shares for X25519MLKEM768 and X25519). Resolves with the negotiated group
 * as the client reports it ("X25519MLKEM768" is a TLSGroup, X25519 an ECDH key) and the socket.
 */
function connectWithGroups(port: number, creds: { ca: Ca; client: Issued }, ecdhCurve: string | undefined): Promise<{ socket: TLSSocket; group: EphemeralKeyInfo }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: readFileSync(creds.ca.cert),
      cert: readFileSync(creds.client.cert),
      key: readFileSync(creds.client.key),
      ...(ecdhCurve === undefined ? {} : { ecdhCurve }),
    });
    socket.once('secureConnect', () => resolve({ socket, group: socket.getEphemeralKeyInfo() as EphemeralKeyInfo }));
    socket.once('error', reject);
  });
}

describe('key exchange, server mode: the hybrid X25519MLKEM768 first, as Ghostunnel 1.11', () => {
  let ca: Ca, server: Issued, client: Issued, backend: Backend, gt: Daemon, relay: HelloRecorder;
  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
    gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'client']);
    relay = await helloRecorder((await gt.address()).port);
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await relay.close();
    await backend.close();
  });

  it('a client that offers only X25519MLKEM768 gets it, and its bytes through', async () => {
    const { socket, group } = await connectWithGroups(relay.port, { ca, client }, 'X25519MLKEM768');
    assert.deepEqual([group.type, group.name], ['TLSGroup', 'X25519MLKEM768']);
    assert.equal((await roundTrip(socket, 'post-quantum')).toString(), 'post-quantum');
    assert.equal(helloRetried(relay.connections.at(-1)!.server), false);
  });

  it("a client sharing keys for both (OpenSSL 3.5's and Go's default) gets the hybrid, our preference, in one round trip", async () => {
    const { socket, group } = await connectWithGroups(relay.port, { ca, client }, undefined);
    assert.equal(group.name, 'X25519MLKEM768');
    socket.destroy();
    const seen = relay.connections.at(-1)!;
    assert.deepEqual(offeredGroups(seen.client).keyShares, ['X25519MLKEM768', 'X25519']);
    assert.equal(helloRetried(seen.server), false);
  });

  it('a client that lists the hybrid but shares a key for X25519 only gets X25519, with no HelloRetryRequest', async () => {
    const { socket, group } = await connectWithGroups(relay.port, { ca, client }, 'X25519:X25519MLKEM768');
    assert.deepEqual(group, { type: 'ECDH', name: 'X25519', size: 253 });
    socket.destroy();
    const seen = relay.connections.at(-1)!;
    assert.deepEqual(offeredGroups(seen.client), { supported: ['X25519', 'X25519MLKEM768'], keyShares: ['X25519'] });
    assert.equal(helloRetried(seen.server), false);
  });

  it('a client without the hybrid (OpenSSL 3.0 s_client) gets X25519 in one round trip', async () => {
    const r = await sClient(relay.port, ['-groups', 'X25519:P-256', '-brief', '-cert', client.cert, '-key', client.key, '-CAfile', ca.cert], 'classical\n', { until: /classical/ });
    assert.match(r.stderr, /Server Temp Key: X25519, 253 bits/);
    assert.match(r.stdout, /classical/);
    assert.equal(helloRetried(relay.connections.at(-1)!.server), false);
  });

  it('a P-256-only client still gets P-256', async () => {
    const { socket, group } = await connectWithGroups(relay.port, { ca, client }, 'P-256');
    assert.equal(group.name, 'prime256v1');
    socket.destroy();
  });
});

describe('key exchange, client mode: key shares for X25519MLKEM768 and X25519, as Go sends', () => {
  let ca: Ca, server: Issued, client: Issued;
  before(() => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost', dns: ['localhost'] });
    client = issue(ca, 'client', { cn: 'client' });
  });

  /** Our client tunnel to a Node.js TLS server with `ecdhCurve`, through a relay that records the hellos. */
  async function throughClientTunnel(ecdhCurve: string, env: NodeJS.ProcessEnv = {}): Promise<{ echoed: string; clientHello: Buffer; serverHello: Buffer }> {
    const target: TlsTarget = await tlsTarget({ cert: server.cert, key: server.key, ecdhCurve });
    const relay = await helloRecorder(target.port);
    const gt = runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', `localhost:${relay.port}`, '--cert', client.cert, '--key', client.key, '--cacert', ca.cert], { env });
    try {
      const { port } = await gt.address();
      const r = await plainExchange(port, `over ${ecdhCurve}`);
      const seen = relay.connections[0]!;
      return { echoed: r.data.toString(), clientHello: seen.client, serverHello: seen.server };
    } finally {
      assert.equal(await gt.stop(), 0);
      await relay.close();
      await target.close();
    }
  }

  it('reaches a server that allows only X25519MLKEM768, without a HelloRetryRequest', async () => {
    const r = await throughClientTunnel('X25519MLKEM768');
    assert.equal(r.echoed, 'over X25519MLKEM768');
    assert.deepEqual(offeredGroups(r.clientHello), { supported: ['X25519MLKEM768', 'X25519', 'P-256', 'P-384', 'P-521'], keyShares: ['X25519MLKEM768', 'X25519'] });
    assert.equal(helloRetried(r.serverHello), false);
  });

  it('reaches a server without the hybrid (X25519 only), without a HelloRetryRequest', async () => {
    const r = await throughClientTunnel('X25519');
    assert.equal(r.echoed, 'over X25519');
    assert.equal(helloRetried(r.serverHello), false);
  });

  it('GODEBUG=tlsmlkem=0 turns the hybrid off, as in Ghostunnel', async () => {
    const r = await throughClientTunnel('X25519:P-256', { GODEBUG: 'tlsmlkem=0' });
    assert.equal(r.echoed, 'over X25519:P-256');
    assert.deepEqual(offeredGroups(r.clientHello), { supported: ['X25519', 'P-256', 'P-384', 'P-521'], keyShares: ['X25519'] });
  });
});

describe('key exchange, server mode with GODEBUG=tlsmlkem=0', () => {
  it('offers the classical groups only: a hybrid-only client is refused, a default one gets X25519', async () => {
    const ca = makeCa();
    const server = issue(ca, 'server', { cn: 'localhost' });
    const client = issue(ca, 'client', { cn: 'client' });
    const backend = await echoBackend();
    const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'client'], { env: { GODEBUG: 'x509sha1=1,tlsmlkem=0' } });
    try {
      const { port } = await gt.address();
      await assert.rejects(connectWithGroups(port, { ca, client }, 'X25519MLKEM768'), /handshake failure|alert number 40/);
      const { socket, group } = await connectWithGroups(port, { ca, client }, undefined);
      assert.equal(group.name, 'X25519');
      assert.equal((await roundTrip(socket, 'classical')).toString(), 'classical');
    } finally {
      assert.equal(await gt.stop(), 0);
      await backend.close();
    }
  });
});
