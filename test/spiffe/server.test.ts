import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { peerSerial, readBytes, roundTrip } from '../helpers/clients.ts';
import { runGhostunnel, runToExit, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, type Ca } from '../helpers/pki.ts';
import { unixOnly } from '../helpers/platform.ts';
import { connectWithSvid, svidResponse, workloadApiAgent, type WorkloadApiAgent } from '../helpers/workload-api.ts';

const SERVER_ID = 'spiffe://example.org/server';
const CLIENT_ID = 'spiffe://example.org/client';
const FEDERATED_CLIENT_ID = 'spiffe://partner.org/client';

/** A client workload presenting `svid`, verifying the tunnel's SVID against `ca`. */
function svidClient(port: number, svid: { cert: string; key: string }, ca: string) {
  return connectWithSvid(port, svid, ca, SERVER_ID);
}

describe('server mode with the SPIFFE Workload API', { skip: unixOnly('the Workload API agent listens on a UNIX socket') }, () => {
  let dir: string, ca: Ca, partnerCa: Ca, backend: Backend, agent: WorkloadApiAgent, gt: Daemon, port: number;
  let serverSvid: ReturnType<typeof issue>;
  before(async () => {
    dir = tempDir('gt-spiffe-server-');
    ca = makeCa('example-org', { dir });
    partnerCa = makeCa('partner-org', { dir });
    serverSvid = issue(ca, 'server-1', { cn: 'server-1', uris: [SERVER_ID] });
    backend = await echoBackend();
    agent = await workloadApiAgent(svidResponse(SERVER_ID, serverSvid, [ca.cert]));
    gt = runGhostunnel([
      'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`,
      '--use-workload-api-addr', agent.address, '--allow-uri', CLIENT_ID, '--allow-uri', FEDERATED_CLIENT_ID,
    ]);
    ({ port } = await gt.address());
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await agent.close();
    await backend.close();
  });

  it('serves the first SVID and admits a client SVID from the bundle with an allowed SPIFFE ID', async () => {
    const clientSvid = issue(ca, 'client-a', { cn: 'client-a', uris: [CLIENT_ID] });
    const socket = await svidClient(port, clientSvid, ca.cert);
    assert.equal(peerSerial(socket), serverSvid.serial);
    assert.equal((await roundTrip(socket, 'hello over an SVID')).toString(), 'hello over an SVID');
    assert.equal(agent.streams(), 1);
  });

  it('refuses a client SVID whose SPIFFE ID is not allowed, and a bundle certificate without a SPIFFE ID', async () => {
    const other = issue(ca, 'client-other', { cn: 'client-other', uris: ['spiffe://example.org/other'] });
    const plain = issue(ca, 'client-plain', { cn: 'client' });
    const before = backend.accepted();
    for (const cert of [other, plain]) {
      const socket = await svidClient(port, cert, ca.cert).catch((err: Error) => err);
      // TLS 1.3: the refusal arrives after the client's handshake completed, as an alert on read.
      const data = socket instanceof Error ? Buffer.alloc(0) : await roundTrip(socket, 'x').catch(() => Buffer.alloc(0));
      assert.equal(data.length, 0);
    }
    await gt.waitForLog(/unauthorized: invalid principal/);
    assert.equal(backend.accepted(), before);
  });

  it('a rotation pushed mid-connection: the open connection carries on, a new one gets the new SVID', async () => {
    const clientSvid = issue(ca, 'client-b', { cn: 'client-b', uris: [CLIENT_ID] });
    const open = await svidClient(port, clientSvid, ca.cert);
    assert.equal(peerSerial(open), serverSvid.serial);
    open.write('before ');
    assert.equal((await readBytes(open, 7)).toString(), 'before ');

    const rotated = issue(ca, 'server-2', { cn: 'server-2', uris: [SERVER_ID] });
    const mark = gt.lines.length;
    agent.push(svidResponse(SERVER_ID, rotated, [ca.cert]));
    const loaded = await gt.waitForLog(/^loaded certificate: /, 10_000, mark);
    assert.equal(loaded.serial, rotated.serial);

    const fresh = await svidClient(port, clientSvid, ca.cert);
    assert.equal(peerSerial(fresh), rotated.serial);
    assert.equal((await roundTrip(fresh, 'new connection')).toString(), 'new connection');
    open.write('after rotation');
    assert.equal((await readBytes(open, 14)).toString(), 'after rotation');
    assert.equal((await roundTrip(open, '.')).toString(), '.');
    serverSvid = rotated;
  });

  it('a trust-bundle change: a client of a federated trust domain is admitted only after the bundle push', async () => {
    const partner = issue(partnerCa, 'partner-client', { cn: 'partner-client', uris: [FEDERATED_CLIENT_ID] });
    const start = gt.lines.length;
    const refused = await svidClient(port, partner, ca.cert).catch((err: Error) => err);
    if (!(refused instanceof Error)) assert.equal((await roundTrip(refused, 'x').catch(() => Buffer.alloc(0))).length, 0);
    await gt.waitForLog(/^error on TLS handshake from .*: certificate verification failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE$/, 10_000, start);

    const mark = gt.lines.length;
    agent.push(svidResponse(SERVER_ID, serverSvid, [ca.cert], { 'partner.org': [partnerCa.cert] }));
    await gt.waitForLog(/^reloading configuration complete/, 10_000, mark);
    const admitted = await svidClient(port, partner, ca.cert);
    assert.equal((await roundTrip(admitted, 'federated')).toString(), 'federated');
  });

  it('an agent restart: the stream is opened again (with back-off) and the new agent\'s SVID swaps in', async () => {
    const path = agent.address.slice('unix://'.length);
    await agent.close();
    const mark = gt.lines.length;
    await gt.waitForLog(/^SPIFFE Workload API at unix:.*\(retrying in \d+ ms\)$/, 10_000, mark);
    const restarted = issue(ca, 'server-restarted', { cn: 'server-restarted', uris: [SERVER_ID] });
    agent = await workloadApiAgent(svidResponse(SERVER_ID, restarted, [ca.cert], { 'partner.org': [partnerCa.cert] }), path);
    assert.equal((await gt.waitForLog(/^loaded certificate: /, 20_000, mark)).serial, restarted.serial);
    const clientSvid = issue(ca, 'client-d', { cn: 'client-d', uris: [CLIENT_ID] });
    const socket = await svidClient(port, clientSvid, ca.cert);
    assert.equal(peerSerial(socket), restarted.serial);
    socket.destroy();
    serverSvid = restarted;
  });

  it('an update that cannot be served (key of another certificate) is refused; the current SVID stays', async () => {
    const a = issue(ca, 'server-3', { cn: 'server-3', uris: [SERVER_ID] });
    const b = issue(ca, 'server-4', { cn: 'server-4', uris: [SERVER_ID] });
    const mark = gt.lines.length;
    agent.push(svidResponse(SERVER_ID, { ...a, key: b.key }, [ca.cert]));
    await gt.waitForLog(/ignoring SPIFFE Workload API update: .*private key does not match/, 10_000, mark);
    const clientSvid = issue(ca, 'client-c', { cn: 'client-c', uris: [CLIENT_ID] });
    const socket = await svidClient(port, clientSvid, ca.cert);
    assert.equal(peerSerial(socket), serverSvid.serial);
    socket.destroy();
  });
});

describe('SPIFFE Workload API start-up failures and flags', { skip: unixOnly('the Workload API agent listens on a UNIX socket') }, () => {
  it('an unreachable agent: exits 1 after --use-workload-api-timeout with the timeout message', async () => {
    const missing = join(tempDir('gt-spiffe-missing-'), 'agent.sock');
    const r = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:9', '--use-workload-api-addr', `unix://${missing}`, '--use-workload-api-timeout', '1s', '--allow-all']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: timed out or failed waiting for initial SPIFFE Workload API update (is the agent reachable and is there a registration entry?)\n');
    assert.ok(r.lines.some((l) => /^SPIFFE Workload API at unix:\/\/.*\(retrying in \d+ ms\)$/.test(l.msg)), 'the connection failures are logged');
  });

  it('an agent with no registration entry for us (no SVID in its answer) also ends in the timeout message', async () => {
    const agent = await workloadApiAgent({ svids: [], crl: [], federated_bundles: {} });
    try {
      const r = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:9', '--use-workload-api-timeout', '1s', '--allow-all'], { env: { SPIFFE_ENDPOINT_SOCKET: agent.address } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: timed out or failed waiting for initial SPIFFE Workload API update/);
      assert.ok(r.lines.some((l) => /sent no X\.509-SVID/.test(l.msg)));
      assert.equal(agent.streams(), 1, 'SPIFFE_ENDPOINT_SOCKET implies --use-workload-api');
    } finally {
      await agent.close();
    }
  });

  it('refuses a negative timeout, a malformed address, and SPKI pins with the Workload API', async () => {
    const base = ['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:9'];
    const negative = await runToExit([...base, '--use-workload-api', '--use-workload-api-timeout', '-1s', '--allow-all']);
    assert.equal(negative.code, 1);
    assert.match(negative.stderr, /--use-workload-api-timeout duration must not be negative \(use 0 to wait indefinitely\)/);
    const bad = await runToExit([...base, '--use-workload-api-addr', 'agent.sock', '--allow-all']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error: invalid --use-workload-api-addr "agent.sock": expected unix:\/\/\/PATH/);
    const pins = await runToExit([...base, '--use-workload-api-addr', 'unix:///x.sock', '--allow-spki-pin', `sha256:${Buffer.alloc(32).toString('base64')}`]);
    assert.equal(pins.code, 1);
    assert.match(pins.stderr, /--allow-spki-pin is mutually exclusive with --use-workload-api/);
    const both = await runToExit([...base, '--use-workload-api-addr', 'unix:///x.sock', '--cert', 'a', '--key', 'b', '--allow-all']);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /--keystore, --cert\/--key, --auto-acme-cert, and --keychain-identity\/issuer flags are mutually exclusive/);
  });
});
