import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir } from '../helpers/pki.ts';
import { collect, connectPlain, plainExchange } from '../helpers/plain-client.ts';
import { tlsTarget } from '../helpers/tls-target.ts';

/** Sends `sig` and waits for that reload's "reloading configuration complete" line; returns whether it succeeded. */
async function reloadWith(gt: Daemon, sig: NodeJS.Signals): Promise<boolean> {
  const from = gt.lines.length;
  gt.signal(sig);
  const done = await gt.waitForLog(/^reloading configuration complete$/, 10_000, from);
  return done.ok === true;
}

describe('client mode: client certificate reload', () => {
  it('the server sees the new certificate on the next connection after SIGHUP and SIGUSR1; a broken keystore keeps the old one', async () => {
    const ca = makeCa();
    const server = issue(ca, 'server', { cn: 'server' });
    const [first, second, third] = ['client-1', 'client-2', 'client-3'].map((n) => issue(ca, n, { cn: 'client' }));
    const keystore = join(tempDir(), 'client.pem');
    copyFileSync(first!.pem, keystore);
    const target = await tlsTarget({ cert: server.cert, key: server.key, ca: ca.cert });
    const gt = runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', `localhost:${target.port}`, '--keystore', keystore, '--cacert', ca.cert]);
    try {
      const { port } = await gt.address();
      const next = async (): Promise<string | undefined> => {
        const r = await plainExchange(port, 'whoami');
        assert.equal(r.data.toString(), 'whoami');
        return target.seen.at(-1)!.serial;
      };
      assert.equal(await next(), first!.serial);
      // A connection opened before the reloads carries on with the certificate it started with.
      const longLived = await connectPlain(port);
      longLived.write('before');
      await new Promise((r) => longLived.once('data', r));

      copyFileSync(second!.pem, keystore);
      assert.equal(await reloadWith(gt, 'SIGHUP'), true);
      assert.equal(await next(), second!.serial);

      copyFileSync(third!.pem, keystore);
      assert.equal(await reloadWith(gt, 'SIGUSR1'), true);
      assert.equal(await next(), third!.serial);

      writeFileSync(keystore, '-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n');
      assert.equal(await reloadWith(gt, 'SIGHUP'), false);
      assert.ok(gt.lines.some((l) => l.level === 'error' && l.msg.startsWith('error reloading TLS configuration: ') && l.msg.includes(keystore)));
      assert.equal(await next(), third!.serial);

      const rest = collect(longLived);
      longLived.end(' and after');
      assert.equal((await rest).data.toString(), ' and after');
      assert.deepEqual(
        target.seen.map((c) => c.serial),
        [first, first, second, third, third].map((c) => c!.serial),
      );
    } finally {
      assert.equal(await gt.stop(), 0);
      await target.close();
    }
  });
});
