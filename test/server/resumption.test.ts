import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { echoBackend } from '../helpers/backends.ts';
import { runGhostunnel } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir } from '../helpers/pki.ts';
import { unixOnly } from '../helpers/platform.ts';

interface Attempt {
  reused: boolean;
  echoed: string;
  session: Buffer | undefined;
}

/** Connects (resuming `session` if given), sends a line, returns what came back and the new ticket. */
function attempt(port: number, creds: { cert: string; key: string; ca: string }, session?: Buffer): Promise<Attempt> {
  return new Promise((resolve) => {
    let ticket: Buffer | undefined;
    let echoed = '';
    let reused = false;
    const s: TLSSocket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', cert: readFileSync(creds.cert), key: readFileSync(creds.key), ca: readFileSync(creds.ca), session });
    s.on('session', (t: Buffer) => (ticket ??= t));
    s.on('data', (c: Buffer) => {
      echoed += c.toString();
      if (echoed.includes('\n')) s.end();
    });
    s.once('secureConnect', () => {
      reused = s.isSessionReused();
      s.write('resume-check\n');
    });
    s.on('error', () => {});
    s.once('close', () => resolve({ reused, echoed, session: ticket }));
  });
}

describe('session resumption and reload', { skip: unixOnly('sends SIGHUP') }, () => {
  it('a ticket from before a CA reload cannot skip the new verification', async () => {
    const trusted = makeCa('trusted-ca');
    const other = makeCa('other-ca', { dir: join(trusted.dir, '..') });
    const server = issue(trusted, 'server', { cn: 'localhost' });
    const client = issue(trusted, 'client', { cn: 'client' });
    const dir = tempDir('gt-resume-');
    const cacert = join(dir, 'ca.crt');
    copyFileSync(trusted.cert, cacert);
    const backend = await echoBackend();
    const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', cacert, '--allow-cn', 'client']);
    try {
      const { port } = await gt.address();
      const creds = { cert: client.cert, key: client.key, ca: trusted.cert };
      const first = await attempt(port, creds);
      assert.equal(first.echoed, 'resume-check\n');
      assert.ok(first.session, 'the server issued a session ticket');

      // Before any reload the ticket resumes: this is what makes the next assertion meaningful.
      const resumed = await attempt(port, creds, first.session);
      assert.equal(resumed.reused, true);
      assert.equal(resumed.echoed, 'resume-check\n');

      copyFileSync(other.cert, cacert);
      const from = gt.lines.length;
      gt.signal('SIGHUP');
      await gt.waitForLog(/^reloading configuration complete$/, 10_000, from);

      const accepted = backend.accepted();
      const after = await attempt(port, creds, resumed.session ?? first.session);
      assert.equal(after.reused, false, 'the old ticket no longer resumes');
      assert.equal(after.echoed, '', 'and the full handshake fails verification against the new CA');
      assert.equal(backend.accepted(), accepted);
      await gt.waitForLog(/certificate verification failed/, 5000, from);
    } finally {
      await gt.stop();
      await backend.close();
    }
  });
});
