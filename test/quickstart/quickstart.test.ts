// `ghostunnel quickstart`: throwaway credentials, a tunnel in front of the built-in backend, and
// the commands it prints, run exactly as printed.
import assert from 'node:assert/strict';
import { exec } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { runGhostunnel } from '../helpers/daemon.ts';
import { unixOnly } from '../helpers/platform.ts';
import { printed, typeLine } from '../helpers/quickstart.ts';
import { tempDir } from '../helpers/pki.ts';
import { requirePrograms } from '../helpers/programs.ts';

const sh = promisify(exec);

describe('ghostunnel quickstart', { skip: unixOnly('sends SIGINT') }, () => {
  it('makes demo credentials, serves the built-in backend, the printed commands reach it; Ctrl-C exits 0', async () => {
    requirePrograms('curl', 'openssl');
    const dir = join(tempDir(), 'demo dir');
    const gt = runGhostunnel(['quickstart', '--dir', dir, '--listen', '127.0.0.1:0', '--status-addr', '127.0.0.1:0']);
    try {
      const curl = await printed(gt, 'curl --cacert');
      for (const f of ['ca.crt', 'server.crt', 'server.key', 'client.crt', 'client.key']) assert.ok(existsSync(join(dir, f)), f);
      assert.match(gt.stdout(), /made a demo CA, server and client certificate in /);
      const { port } = await gt.address();
      assert.ok(curl.endsWith(`https://127.0.0.1:${port}/`), curl);

      const viaCurl = await sh(curl);
      assert.match(viaCurl.stdout, /^ghostunnel quickstart: the backend behind the tunnel received\n\nGET \/ HTTP\/1\.1\n/);

      const echoed = await typeLine(await printed(gt, 'openssl s_client'), 'hello through the tunnel');
      assert.equal(echoed, 'hello through the tunnel\n');

      const status = JSON.parse((await sh(await printed(gt, 'curl http://'))).stdout) as { ok: boolean; listen_address: string };
      assert.equal(status.ok, true);
      assert.equal(status.listen_address, '127.0.0.1:0');

      const withoutCertificate = curl.replace(/ --cert ('[^']*'|\S+) --key ('[^']*'|\S+)/, '');
      assert.doesNotMatch(withoutCertificate, /--cert|--key/);
      await assert.rejects(sh(withoutCertificate), 'the tunnel requires the client certificate');
    } finally {
      gt.signal('SIGINT');
    }
    assert.equal(await gt.exited(), 0);
    await gt.waitForLog(/^received SIGINT, shutting down$/);

    const again = runGhostunnel(['quickstart', '--dir', dir, '--listen', '127.0.0.1:0', '--status-addr', '127.0.0.1:0']);
    try {
      await printed(again, 'curl --cacert');
      assert.match(again.stdout(), /reusing a demo CA, server and client certificate in /);
    } finally {
      assert.equal(await again.stop(), 0);
    }
  });
});
