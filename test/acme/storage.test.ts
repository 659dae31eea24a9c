import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { echoBackend } from '../helpers/backends.ts';
import { connectTls, peerSerial, roundTrip } from '../helpers/clients.ts';
import { runGhostunnel } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir } from '../helpers/pki.ts';

const FQDN = 'stored.ghostunnel.test';

describe('--auto-acme-cert with a certificate already in storage', () => {
  it('serves a stored certificate that is not due for renewal at once, without contacting the CA', async () => {
    const dir = tempDir('gt-acme-stored-');
    const ca = makeCa('stored-ca', { dir });
    const stored = issue(ca, 'stored', { cn: FQDN, dns: [FQDN] });
    const client = issue(ca, 'client', { cn: 'client' });
    // The documented layout: $XDG_DATA_HOME/ghostunnel-acme/<ca host and path>/certificates/<fqdn>/.
    const certDir = join(dir, 'data', 'ghostunnel-acme', '127.0.0.1_1_directory', 'certificates', FQDN);
    mkdirSync(certDir, { recursive: true });
    copyFileSync(stored.cert, join(certDir, 'certificate.pem'));
    copyFileSync(stored.key, join(certDir, 'private-key.pem'));
    const backend = await echoBackend();
    // Nothing listens on port 1: any ACME request would fail.
    const gt = runGhostunnel(
      [
        'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`,
        '--auto-acme-cert', FQDN, '--auto-acme-email', 'ops@ghostunnel.test', '--auto-acme-agree-to-tos',
        '--auto-acme-testca', 'https://127.0.0.1:1/directory', '--cacert', ca.cert, '--allow-cn', 'client',
      ],
      { env: { XDG_DATA_HOME: join(dir, 'data') } },
    );
    try {
      const { port } = await gt.address();
      assert.equal((await gt.waitForLog(/^loaded certificate: /)).serial, stored.serial);
      const socket = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert, servername: FQDN });
      assert.equal(peerSerial(socket), stored.serial);
      assert.equal((await roundTrip(socket, 'stored')).toString(), 'stored');
      assert.ok(!gt.lines.some((l) => /obtaining|renewing/.test(l.msg)), 'no ACME order was placed');
    } finally {
      assert.equal(await gt.stop(), 0);
      await backend.close();
    }
  });
});
