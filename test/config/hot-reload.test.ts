// --config at reload: the file is read again at every trigger; access rules, target, quiet and
// metrics apply to new connections without a restart, open connections keep theirs (or are
// re-authorized), a file that does not validate changes nothing, and what needs a restart waits.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { bannerBackend, type Backend } from '../helpers/backends.ts';
import { runGhostunnel, type Daemon, type LogLine } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, type Issued } from '../helpers/pki.ts';
import { unixOnly } from '../helpers/platform.ts';
import { curl, eventually, statusAddress } from '../helpers/status.ts';
import { closed, echoed, probe } from '../helpers/tls-probe.ts';
import { tlsTarget } from '../helpers/tls-target.ts';

const ca = makeCa('config-ca');
const server = issue(ca, 'server', { cn: 'localhost' });
const c1 = issue(ca, 'client1', { cn: 'client1' });
const c2 = issue(ca, 'client2', { cn: 'client2' });
const creds = (who: Issued) => ({ cert: who.cert, key: who.key, ca: ca.cert });

interface ServerFile {
  allowCn?: string[];
  target: number;
  /** More YAML lines, as written. */
  extra?: string[];
}

function serverYaml({ allowCn = ['client1'], target, extra = [] }: ServerFile): string {
  return [
    'mode: server',
    'listen: 127.0.0.1:0',
    `target: 127.0.0.1:${target}`,
    `cert: ${server.cert}`,
    `key: ${server.key}`,
    `cacert: ${ca.cert}`,
    `allow-cn: [${allowCn.join(', ')}]`,
    'status: http://127.0.0.1:0',
    ...extra,
    '',
  ].join('\n');
}

interface Tunnel {
  gt: Daemon;
  port: number;
  status: string;
  file: string;
}

async function start(content: string, args: string[] = []): Promise<Tunnel> {
  const file = join(tempDir('gt-hot-'), 'ghostunnel.yaml');
  writeFileSync(file, content);
  const gt = runGhostunnel(['--config', file, ...args]);
  const { port } = await gt.address();
  return { gt, port, status: `http://${await statusAddress(gt)}`, file };
}

/** SIGHUP, then the reload's closing line. */
async function reload(t: Tunnel): Promise<LogLine> {
  const from = t.gt.lines.length;
  t.gt.signal('SIGHUP');
  return t.gt.waitForLog(/^reloading configuration complete$/, 15_000, from);
}

interface Status {
  ok: boolean;
  forward_address: string;
  last_reload_ok: boolean;
  last_reload_error?: string;
  restart_pending?: boolean;
  restart_pending_reason?: string;
}

/** The first line a new connection as `who` gets ('' when refused); the connection is closed again. */
async function firstLine(t: Tunnel, who: Issued): Promise<string> {
  const p = await probe(t.port, creds(who));
  p.socket?.destroy();
  return p.line;
}

async function status(t: Tunnel): Promise<Status> {
  const r = await curl([`${t.status}/_status`]);
  assert.equal(r.exit, 0, r.stderr);
  return JSON.parse(r.body) as Status;
}

describe('--config reload: access rules', { skip: unixOnly('sends SIGHUP') }, () => {
  let a: Backend;
  before(async () => {
    a = await bannerBackend('backend-a\n');
  });
  after(() => a.close());

  it('allow-cn changed, then SIGHUP: the old client is refused next time, the new one admitted, the open connection carries on', async () => {
    const t = await start(serverYaml({ allowCn: ['client1'], target: a.port }));
    try {
      const open = await probe(t.port, creds(c1));
      assert.equal(open.line, 'backend-a\n');
      assert.equal(await firstLine(t, c2), '', 'client2 is not allowed yet');

      writeFileSync(t.file, serverYaml({ allowCn: ['client2'], target: a.port }));
      const done = await reload(t);
      assert.equal(done.ok, true);
      assert.equal(done.config_changed, true);
      await t.gt.waitForLog(/^configuration file .* changed: allow-cn: \["client1"\] -> \["client2"\]$/);

      const accepted = a.accepted();
      assert.equal(await firstLine(t, c1), '', 'client1 is refused on its next connection');
      assert.equal(a.accepted(), accepted, 'and never reaches the backend');
      assert.equal(await firstLine(t, c2), 'backend-a\n', 'client2 is admitted');
      assert.equal(await echoed(open.socket!, 'still here\n'), 'still here\n', "client1's open connection keeps working");
      assert.ok(!t.gt.lines.some((l) => /^closing connection from/.test(l.msg)));
      open.socket!.destroy();
    } finally {
      assert.equal(await t.gt.stop(), 0);
    }
  });

  it('with reauthorize-open-connections: the open connection of a client no longer allowed is closed, others stay', async () => {
    const t = await start(serverYaml({ allowCn: ['client1', 'client2'], target: a.port, extra: ['reauthorize-open-connections: true'] }));
    try {
      const first = await probe(t.port, creds(c1));
      const second = await probe(t.port, creds(c2));
      assert.equal(first.line, 'backend-a\n');
      assert.equal(second.line, 'backend-a\n');

      writeFileSync(t.file, serverYaml({ allowCn: ['client2'], target: a.port, extra: ['reauthorize-open-connections: true'] }));
      assert.equal((await reload(t)).ok, true);
      await closed(first.socket!);
      const line = await t.gt.waitForLog(/^closing connection from .* \[CN=client1\]: no longer allowed by the access rules/);
      assert.equal(line.subject, 'CN=client1');
      await t.gt.waitForLog(/^re-authorized 2 open connections against the new access rules: 1 closed$/);
      assert.equal(await echoed(second.socket!, 'client2 stays\n'), 'client2 stays\n');
      second.socket!.destroy();
    } finally {
      assert.equal(await t.gt.stop(), 0);
    }
  });

  it('a change of the access rules builds a new TLS context: a session from before cannot resume', async () => {
    const t = await start(serverYaml({ allowCn: ['client1'], target: a.port }));
    try {
      const first = await probe(t.port, creds(c1));
      first.socket!.destroy();
      assert.ok(first.ticket, 'the server issued a session ticket');
      const resumed = await probe(t.port, creds(c1), { session: first.ticket });
      resumed.socket!.destroy();
      assert.equal(resumed.resumed, true, 'before the reload the ticket resumes (so the next assertion means something)');

      writeFileSync(t.file, serverYaml({ allowCn: ['client1', 'client2'], target: a.port }));
      const from = t.gt.lines.length;
      assert.equal((await reload(t)).changed, true);
      await t.gt.waitForLog(/^credentials unchanged; new TLS context for the changed configuration/, 5000, from);
      const after = await probe(t.port, creds(c1), { session: resumed.ticket ?? first.ticket });
      after.socket!.destroy();
      assert.equal(after.resumed, false, 'the old ticket no longer resumes');
      assert.equal(after.line, 'backend-a\n', 'a full handshake under the new rules admits client1');
    } finally {
      assert.equal(await t.gt.stop(), 0);
    }
  });
});

describe('--config reload: target', { skip: unixOnly('sends SIGHUP') }, () => {
  let a: Backend, b: Backend;
  before(async () => {
    a = await bannerBackend('backend-a\n');
    b = await bannerBackend('backend-b\n');
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  it('new connections reach the new backend, open ones stay on the old one', async () => {
    const t = await start(serverYaml({ target: a.port }));
    try {
      const open = await probe(t.port, creds(c1));
      assert.equal(open.line, 'backend-a\n');
      writeFileSync(t.file, serverYaml({ target: b.port }));
      assert.equal((await reload(t)).ok, true);
      const next = await probe(t.port, creds(c1));
      assert.equal(next.line, 'backend-b\n', 'a new connection reaches the new backend');
      next.socket!.destroy();
      assert.equal(await echoed(open.socket!, 'old path\n'), 'old path\n', 'the open connection still reaches the old backend');
      assert.equal(a.accepted(), 1);
      assert.equal(b.accepted(), 1);
      assert.equal((await status(t)).forward_address, `127.0.0.1:${b.port}`);
      open.socket!.destroy();
    } finally {
      assert.equal(await t.gt.stop(), 0);
    }
  });
});

describe('--config reload: a file that does not validate changes nothing', { skip: unixOnly('sends SIGHUP') }, () => {
  let a: Backend, b: Backend, t: Tunnel;
  before(async () => {
    a = await bannerBackend('backend-a\n');
    b = await bannerBackend('backend-b\n');
    t = await start(serverYaml({ target: a.port, extra: ['enable-reload: true'] }));
  });
  after(async () => {
    assert.equal(await t.gt.stop(), 0);
    await a.close();
    await b.close();
  });

  /** Each broken file also asks for client2 and backend b: neither may apply. */
  const cases: Array<{ name: string; content: () => string; line: number; error: RegExp; via: 'SIGHUP' | 'POST /_reload' }> = [
    {
      name: 'broken YAML',
      content: () => serverYaml({ allowCn: ['client2'], target: b.port }).replace('allow-cn: [client2]', 'allow-cn: [client2'),
      line: 8,
      error: /:8:1: invalid YAML: /,
      via: 'SIGHUP',
    },
    {
      name: 'an unknown key',
      content: () => serverYaml({ allowCn: ['client2'], target: b.port, extra: ['allow-common-name: [client2]'] }),
      line: 9,
      error: /:9: unknown key "allow-common-name"/,
      via: 'POST /_reload',
    },
    {
      name: 'conflicting settings',
      content: () => serverYaml({ allowCn: ['client2'], target: b.port, extra: ['allow-all: true'] }),
      line: 9,
      error: /:9: --allow-all is mutually exclusive with other access control flags/,
      via: 'SIGHUP',
    },
    {
      name: 'a bad value',
      content: () => serverYaml({ allowCn: ['client2'], target: b.port, extra: ['connect-timeout: 10'] }),
      line: 9,
      error: /:9: connect-timeout: missing unit in duration "10"/,
      via: 'SIGHUP',
    },
  ];
  for (const c of cases) {
    it(`${c.name} (${c.via}): the previous configuration stays; the log and /_status name the file and line`, async () => {
      writeFileSync(t.file, c.content());
      const from = t.gt.lines.length;
      if (c.via === 'SIGHUP') {
        assert.equal((await reload(t)).ok, false);
      } else {
        const r = await curl(['-X', 'POST', `${t.status}/_reload`]);
        assert.equal(r.status, 500);
        const answer = JSON.parse(r.body) as { ok: boolean; error: string };
        assert.equal(answer.ok, false);
        assert.ok(answer.error.startsWith(`${t.file}:${c.line}`), answer.error);
      }
      const logged = await t.gt.waitForLog(/^error reloading configuration: /, 5000, from);
      assert.ok(logged.msg.startsWith(`error reloading configuration: ${t.file}:${c.line}`), logged.msg);
      assert.match(logged.msg, c.error);
      assert.match(logged.msg, /\(the previous configuration and credentials stay in use\)$/);
      const s = await status(t);
      assert.equal(s.last_reload_ok, false);
      assert.ok(s.last_reload_error?.startsWith(`${t.file}:${c.line}`), s.last_reload_error);
      assert.match(s.last_reload_error!, c.error);
      assert.equal(s.forward_address, `127.0.0.1:${a.port}`);
      const one = await probe(t.port, creds(c1));
      assert.equal(one.line, 'backend-a\n', 'client1 is still allowed, and the target is still backend a');
      one.socket!.destroy();
      assert.equal(await firstLine(t, c2), '', 'client2 is still refused');
      assert.equal(b.accepted(), 0);
    });
  }

  it('a good file afterwards applies, and /_status shows the reload worked', async () => {
    writeFileSync(t.file, serverYaml({ allowCn: ['client2'], target: b.port, extra: ['enable-reload: true'] }));
    assert.equal((await reload(t)).ok, true);
    const s = await status(t);
    assert.equal(s.last_reload_ok, true);
    assert.equal(s.last_reload_error, undefined);
    assert.equal(await firstLine(t, c2), 'backend-b\n');
  });
});

describe('--config reload: what needs a restart, and the settings beyond the tunnel', { skip: unixOnly('sends SIGHUP') }, () => {
  it('a changed listen address is refused and reported as a pending restart; quiet and metrics-prefix apply at once', async () => {
    const a = await bannerBackend('backend-a\n');
    const t = await start(serverYaml({ target: a.port }));
    try {
      assert.equal((await status(t)).restart_pending, false);
      const one = await probe(t.port, creds(c1));
      one.socket!.destroy();
      await t.gt.waitForLog(/^opening pipe: /);

      writeFileSync(t.file, serverYaml({ allowCn: ['client2'], target: a.port, extra: ['quiet: [conns]', 'metrics-prefix: edge'] }).replace('listen: 127.0.0.1:0', 'listen: 127.0.0.1:1'));
      const from = t.gt.lines.length;
      assert.equal((await reload(t)).ok, true);
      const refused = await t.gt.waitForLog(/^configuration change in .* needs a restart and is not applied: listen: "127.0.0.1:0" -> "127.0.0.1:1" \(other changes apply\)$/, 5000, from);
      assert.equal(refused.level, 'warn');
      const s = await status(t);
      assert.equal(s.restart_pending, true);
      assert.match(s.restart_pending_reason ?? '', /listen: "127\.0\.0\.1:0" -> "127\.0\.0\.1:1": restart to apply$/);

      const mark = t.gt.lines.length;
      const two = await probe(t.port, creds(c2));
      assert.equal(two.line, 'backend-a\n', 'allow-cn applied although listen did not; the old port still serves');
      two.socket!.destroy();
      await eventually(async () => {
        const metrics = await curl([`${t.status}/_metrics/prometheus`]);
        assert.match(metrics.body, /^edge_accept_total /m);
        assert.doesNotMatch(metrics.body, /^ghostunnel_accept_total /m);
      });
      assert.ok(!t.gt.lines.slice(mark).some((l) => /^opening pipe: /.test(l.msg)), 'quiet: [conns] silences the connection lines');

      writeFileSync(t.file, serverYaml({ allowCn: ['client2'], target: a.port, extra: ['quiet: [conns]', 'metrics-prefix: edge'] }));
      assert.equal((await reload(t)).ok, true);
      await t.gt.waitForLog(/matches the running process again: no restart pending$/);
      assert.equal((await status(t)).restart_pending, false);
    } finally {
      assert.equal(await t.gt.stop(), 0);
      await a.close();
    }
  });

  it('--auto-reload watches the configuration file: an edit applies without a signal', async () => {
    const a = await bannerBackend('backend-a\n');
    const t = await start(serverYaml({ target: a.port, extra: ['auto-reload: true'] }));
    try {
      await t.gt.waitForLog(/^watching \d+ credential files for changes/);
      assert.equal(await firstLine(t, c2), '');
      writeFileSync(t.file, serverYaml({ allowCn: ['client2'], target: a.port, extra: ['auto-reload: true'] }));
      const done = await t.gt.waitForLog(/^reloading configuration complete$/);
      assert.equal(done.trigger, 'file');
      assert.equal(done.config_changed, true);
      const two = await probe(t.port, creds(c2));
      assert.equal(two.line, 'backend-a\n');
      two.socket!.destroy();
    } finally {
      assert.equal(await t.gt.stop(), 0);
      await a.close();
    }
  });
});

describe('--config reload: client mode', { skip: unixOnly('sends SIGHUP') }, () => {
  /** The first line through the client tunnel's plain listener ('' when it closed), and the socket. */
  const plainProbe = (port: number): Promise<{ line: string; socket: Socket | undefined }> =>
    new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let line = '';
      const finish = (open: boolean): void => {
        socket.removeAllListeners('data');
        if (!open) socket.destroy();
        resolve({ line: open ? line : '', socket: open ? socket : undefined });
      };
      socket.on('data', (c: Buffer) => {
        line += c.toString();
        if (line.includes('\n')) finish(true);
      });
      socket.on('error', () => {});
      socket.once('close', () => finish(false));
    });

  it('target and verify-cn apply to new connections; the open one stays on the old server', async () => {
    const banner = (text: string) => (s: TLSSocket) => {
      s.write(text);
      s.pipe(s);
    };
    const serverA = issue(ca, 'target-a', { cn: 'target-a', ips: ['127.0.0.1'] });
    const serverB = issue(ca, 'target-b', { cn: 'target-b', ips: ['127.0.0.1'] });
    const a = await tlsTarget({ cert: serverA.cert, key: serverA.key, ca: ca.cert, onSecure: banner('target-a\n') });
    const b = await tlsTarget({ cert: serverB.cert, key: serverB.key, ca: ca.cert, onSecure: banner('target-b\n') });
    const yaml = (target: number, verifyCn: string[]) =>
      ['mode: client', 'listen: 127.0.0.1:0', `target: 127.0.0.1:${target}`, `cert: ${c1.cert}`, `key: ${c1.key}`, `cacert: ${ca.cert}`, `verify-cn: [${verifyCn.join(', ')}]`, ''].join('\n');
    const file = join(tempDir('gt-hot-client-'), 'client.yaml');
    writeFileSync(file, yaml(a.port, ['target-a', 'target-b']));
    const gt = runGhostunnel(['--config', file]);
    try {
      const { port } = await gt.address();
      const open = await plainProbe(port);
      assert.equal(open.line, 'target-a\n');

      writeFileSync(file, yaml(b.port, ['target-b']));
      const from = gt.lines.length;
      gt.signal('SIGHUP');
      assert.equal((await gt.waitForLog(/^reloading configuration complete$/, 15_000, from)).ok, true);
      const next = await plainProbe(port);
      assert.equal(next.line, 'target-b\n', 'a new connection reaches the new target');
      next.socket!.destroy();
      open.socket!.write('old target\n');
      const more = await new Promise<string>((resolve) => open.socket!.once('data', (c: Buffer) => resolve(c.toString())));
      assert.equal(more, 'old target\n', 'the open connection stays on the old target');
      open.socket!.destroy();

      writeFileSync(file, yaml(b.port, ['target-a']));
      const again = gt.lines.length;
      gt.signal('SIGHUP');
      assert.equal((await gt.waitForLog(/^reloading configuration complete$/, 15_000, again)).ok, true);
      assert.equal((await plainProbe(port)).line, '', 'target-b no longer passes --verify-cn');
      await gt.waitForLog(/^error on dial: unauthorized: invalid principal, or principal not allowed$/, 5000, again);
      assert.equal(a.seen.length, 1, 'the old target saw only the connection opened before the change');
    } finally {
      assert.equal(await gt.stop(), 0);
      await a.close();
      await b.close();
    }
  });
});
