// Must show 1: every bundle × certificate decision in expected.json reproduced through real
// handshakes, in server mode (the client presents each fixture certificate) and in client mode
// (the target presents it), including client1-revoked, whose serial only an exact input tells apart.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSecureContext, createServer, type SecureContext, type Server } from 'node:tls';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, roundTrip } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { tempDir } from '../helpers/pki.ts';
import { plainExchange } from '../helpers/plain-client.ts';
import { unixOnly } from '../helpers/platform.ts';
import { cert, decisionCases, key, PEERS, ROOT, SERVER_NAME, type Case, type Peer } from './fixtures.ts';

/** True when bytes made it through the tunnel to the echo backend and back. */
async function serverAdmits(port: number, peer: Peer): Promise<boolean> {
  const payload = `hello from ${peer}`;
  try {
    const socket = await connectTls(port, { cert: cert(peer), key: key(peer), ca: ROOT });
    return (await roundTrip(socket, payload, { timeoutMs: 5000 })).toString() === payload;
  } catch {
    return false;
  }
}

async function clientAdmits(port: number, peer: Peer): Promise<boolean> {
  const payload = `hello to ${peer}`;
  const r = await plainExchange(port, payload, { timeoutMs: 5000 });
  return r.data.toString() === payload;
}

const decisionsOf = async (admits: (p: Peer) => Promise<boolean>): Promise<Record<Peer, boolean>> =>
  Object.fromEntries(await Promise.all(PEERS.map(async (p) => [p, await admits(p)]))) as Record<Peer, boolean>;

describe('server mode: --allow-policy decisions through handshakes', () => {
  let backend: Backend;
  before(async () => (backend = await echoBackend()));
  after(() => backend.close());

  for (const c of decisionCases()) {
    it(c.name, async () => {
      const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', cert('server1'), '--key', key('server1'), '--cacert', ROOT, '--allow-policy', c.bundle, '--allow-query', c.query]);
      try {
        const { port } = await gt.address();
        assert.deepEqual(await decisionsOf((p) => serverAdmits(port, p)), c.allowed);
      } finally {
        assert.equal(await gt.stop(), 0);
      }
      const denied = PEERS.filter((p) => !c.allowed[p]).length;
      assert.equal(gt.lines.filter((l) => /unauthorized: invalid principal, or principal not allowed/.test(l.msg)).length, denied);
    });
  }

  it('OR-combines with the flag rules: --allow-cn admits without asking the policy', async () => {
    const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', cert('server1'), '--key', key('server1'), '--cacert', ROOT,
      '--allow-cn', 'client2', '--allow-policy', decisionCases().find((c) => c.name.startsWith('allow-client1'))!.bundle, '--allow-query', 'data.policy.allow']);
    try {
      const { port } = await gt.address();
      const got = await decisionsOf((p) => serverAdmits(port, p));
      assert.deepEqual(PEERS.filter((p) => got[p]), ['client1', 'client2', 'client1-revoked']);
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  });
});

describe('client mode: --verify-policy decisions through handshakes', { skip: unixOnly('sends SIGHUP') }, () => {
  // The target picks its certificate by SNI; the peers that share the name "localhost" take turns
  // behind it, and ip-only (an IP name: no SNI) is its default. One client tunnel per verified
  // name; the policy file is swapped and reloaded (SIGHUP) from one bundle to the next.
  const names = [...new Set(Object.values(SERVER_NAME))];
  let localhostPeer: Peer = 'client1';
  let target: Server;
  let targetPort: number;
  before(async () => {
    const context = (p: Peer): SecureContext => createSecureContext({ cert: readFileSync(cert(p)), key: readFileSync(key(p)) });
    const byName = new Map(PEERS.filter((p) => SERVER_NAME[p] !== 'localhost').map((p) => [SERVER_NAME[p], context(p)]));
    const localhost = new Map(PEERS.map((p) => [p, context(p)]));
    target = createServer({ cert: readFileSync(cert('ip-only')), key: readFileSync(key('ip-only')), SNICallback: (name, cb) => cb(null, name === 'localhost' ? localhost.get(localhostPeer)! : byName.get(name)!) }, (s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    targetPort = (target.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => target.close(() => r())));

  const byQuery = new Map<string, Case[]>();
  for (const c of decisionCases()) byQuery.set(c.query, [...(byQuery.get(c.query) ?? []), c]);

  for (const [query, cases] of byQuery) {
    it(`${cases.map((c) => c.name.split(' ')[0]).join(', ')} (${query})`, async () => {
      const policy = join(tempDir('gt-opa-client-'), 'policy.tar.gz');
      copyFileSync(cases[0]!.bundle, policy);
      const tunnels = new Map<string, { gt: Daemon; port: number }>();
      try {
        await Promise.all(
          names.map(async (name) => {
            const gt = runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${targetPort}`, '--disable-authentication', '--cacert', ROOT,
              '--override-server-name', name, '--verify-policy', policy, '--verify-query', query]);
            tunnels.set(name, { gt, port: (await gt.address()).port });
          }),
        );
        for (const [i, c] of cases.entries()) {
          if (i > 0) {
            copyFileSync(c.bundle, policy);
            await Promise.all(
              [...tunnels.values()].map(({ gt }) => {
                const from = gt.lines.length;
                gt.signal('SIGHUP');
                return gt.waitForLog(/^loaded OPA policy/, 10_000, from);
              }),
            );
          }
          const got = {} as Record<Peer, boolean>;
          for (const p of PEERS.filter((q) => SERVER_NAME[q] === 'localhost')) {
            localhostPeer = p;
            got[p] = await clientAdmits(tunnels.get('localhost')!.port, p);
          }
          await Promise.all(PEERS.filter((p) => SERVER_NAME[p] !== 'localhost').map(async (p) => (got[p] = await clientAdmits(tunnels.get(SERVER_NAME[p])!.port, p))));
          assert.deepEqual(got, c.allowed, c.name);
        }
      } finally {
        for (const { gt } of tunnels.values()) assert.equal(await gt.stop(), 0);
      }
    });
  }
});
