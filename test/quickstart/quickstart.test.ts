import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { runGhostunnel } from '../helpers/daemon.ts';
import { tempDir } from '../helpers/pki.ts';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('ghostunnel quickstart', () => {
  it('makes demo credentials, serves an echo, and the command it prints reaches it', async () => {
    const dir = join(tempDir(), 'demo');
    const [port, statusPort] = [await freePort(), await freePort()];
    const gt = runGhostunnel(['quickstart', '--dir', dir, '--listen', `127.0.0.1:${port}`, '--status-addr', `127.0.0.1:${statusPort}`]);
    try {
      await gt.address();
      for (const f of ['ca.crt', 'server.crt', 'server.key', 'client.crt', 'client.key']) assert.ok(existsSync(join(dir, f)), f);
      const command = /^ {2}(echo hello \| openssl s_client .*)$/m.exec(gt.stdout())?.[1];
      assert.ok(command, `quickstart prints an openssl command:\n${gt.stdout()}`);
      const { stdout } = await promisify(execFile)('sh', ['-c', `timeout 5 sh -c '${command}' || true`]);
      assert.match(stdout, /^hello$/m);
      const status = await fetch(`http://127.0.0.1:${statusPort}/_status`);
      assert.equal(status.status, 200);
      assert.equal(((await status.json()) as { ok: boolean }).ok, true);
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  });
});
