import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { plainExchange } from '../helpers/plain-client.ts';
import { unixOnly } from '../helpers/platform.ts';
import { tlsTarget, type TlsTarget } from '../helpers/tls-target.ts';
import { svidResponse, workloadApiAgent, type WorkloadApiAgent } from '../helpers/workload-api.ts';

const CLIENT_ID = 'spiffe://example.org/client';
const SERVER_ID = 'spiffe://example.org/server';

describe('client mode with the SPIFFE Workload API', { skip: unixOnly('the Workload API agent listens on a UNIX socket') }, () => {
  let ca: Ca, clientSvid: Issued, serverSvid: Issued, agent: WorkloadApiAgent, target: TlsTarget;
  before(async () => {
    const dir = tempDir('gt-spiffe-client-');
    ca = makeCa('example-org', { dir });
    clientSvid = issue(ca, 'client-1', { cn: 'client-1', uris: [CLIENT_ID] });
    // A URI SAN only: no name that 127.0.0.1 could be verified against.
    serverSvid = issue(ca, 'server', { cn: 'server', uris: [SERVER_ID] });
    agent = await workloadApiAgent(svidResponse(CLIENT_ID, clientSvid, [ca.cert]));
    target = await tlsTarget({ cert: serverSvid.cert, key: serverSvid.key, ca: ca.cert });
  });
  after(async () => {
    await target.close();
    await agent.close();
  });

  async function tunnel(args: string[]): Promise<{ gt: Daemon; port: number }> {
    const gt = runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${target.port}`, '--use-workload-api-addr', agent.address, ...args]);
    return { gt, port: (await gt.address()).port };
  }

  it('presents its SVID and verifies the server SVID by SPIFFE ID instead of the host name; rotations apply to new connections', async () => {
    const { gt, port } = await tunnel(['--verify-uri', SERVER_ID]);
    try {
      const first = await plainExchange(port, 'via the workload API');
      assert.equal(first.data.toString(), 'via the workload API');
      assert.equal(target.seen.at(-1)!.serial, clientSvid.serial);

      const rotated = issue(ca, 'client-2', { cn: 'client-2', uris: [CLIENT_ID] });
      const mark = gt.lines.length;
      agent.push(svidResponse(CLIENT_ID, rotated, [ca.cert]));
      assert.equal((await gt.waitForLog(/^loaded certificate: /, 10_000, mark)).serial, rotated.serial);
      const second = await plainExchange(port, 'after rotation');
      assert.equal(second.data.toString(), 'after rotation');
      assert.equal(target.seen.at(-1)!.serial, rotated.serial);
      clientSvid = rotated;
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  });

  it('refuses a server whose SPIFFE ID does not match --verify-uri', async () => {
    const { gt, port } = await tunnel(['--verify-uri', 'spiffe://example.org/elsewhere']);
    try {
      const before = target.bytesReceived();
      const r = await plainExchange(port, 'must not arrive');
      assert.equal(r.data.length, 0);
      await gt.waitForLog(/^error on dial: unauthorized: invalid principal/);
      assert.equal(target.bytesReceived(), before);
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  });

  it('refuses a server from outside the trust bundle, even when --cacert trusts it (the bundle replaces --cacert)', async () => {
    const otherCa = makeCa('other-ca', { dir: tempDir('gt-spiffe-other-') });
    const stranger = issue(otherCa, 'stranger', { cn: 'stranger', uris: [SERVER_ID] });
    const strangerTarget = await tlsTarget({ cert: stranger.cert, key: stranger.key });
    const gt = runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${strangerTarget.port}`, '--use-workload-api-addr', agent.address, '--cacert', otherCa.cert]);
    try {
      const { port } = await gt.address();
      const r = await plainExchange(port, 'must not arrive');
      assert.equal(r.data.length, 0);
      await gt.waitForLog(/^error on dial: certificate verification failed: .*UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
      assert.equal(strangerTarget.bytesReceived(), 0);
    } finally {
      assert.equal(await gt.stop(), 0);
      await strangerTarget.close();
    }
  });

  it('with --disable-authentication: verifies the server with the bundle and presents no certificate', async () => {
    const { gt, port } = await tunnel(['--disable-authentication']);
    try {
      const r = await plainExchange(port, 'no client certificate');
      assert.equal(r.data.toString(), 'no client certificate');
      assert.equal(target.seen.at(-1)!.serial, undefined);
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  });
});
