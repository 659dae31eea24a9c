// --syslog (spec §2.15): log lines go to the local syslog socket as RFC 3164 datagrams with
// facility daemon. The daemon runs in a private mount namespace (unshare -m) in which the test's
// own datagram socket is the local syslog socket, so no system logger is needed or touched.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { datagramSink, type DatagramSink } from '../helpers/datagram-sink.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { listeningPort } from '../helpers/listening-port.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';

/**
 * Runs node inside a mount namespace where DIR is mounted on /run (so /var/run/syslog is
 * DIR/syslog) and, where the machine has a /dev/log, DIR/syslog (or /dev/null) is mounted over it.
 */
function inNamespace(dir: string, devLog: string): string[] {
  const script = 'dir=$1; shift; if [ -e /dev/log ]; then mount --bind "$0" /dev/log || exit 97; fi; mount --bind "$dir" /run || exit 97; exec "$@"';
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, devLog, dir];
}

describe('--syslog', { skip: linuxOnly('--syslog sends UNIX datagrams') }, () => {
  let ca: Ca, server: Issued, backend: Backend;
  const daemons: Daemon[] = [];
  const sinks: DatagramSink[] = [];
  const args = (): string[] => ['server', '--syslog', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--allow-all'];

  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    backend = await echoBackend();
  });
  after(async () => {
    for (const gt of daemons) await gt.stop();
    for (const s of sinks) s.close();
    await backend.close();
  });

  it('sends each line to the local syslog socket: facility daemon, severity by level, tag and pid', async () => {
    const dir = tempDir();
    const sink = await datagramSink(join(dir, 'syslog'));
    sinks.push(sink);
    const gt = runGhostunnel(args(), { wrap: inNamespace(dir, join(dir, 'syslog')) });
    daemons.push(gt);
    const listening = await sink.waitFor(/listening for connections on 127\.0\.0\.1:0/);
    const m = /^<(\d+)>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) ghostunnel\[(\d+)\]: listening for connections on 127\.0\.0\.1:0\n$/.exec(listening);
    assert.ok(m, `RFC 3164 datagram: ${JSON.stringify(listening)}`);
    assert.equal(Number(m[1]), 3 * 8 + 6, 'facility daemon (3), severity info (6)');
    const pid = Number(m[3]);
    assert.ok(sink.messages.some((d) => d.endsWith(`ghostunnel[${pid}]: starting ghostunnel in server mode\n`)));
    assert.equal(gt.stdout(), '', 'nothing on stdout with --syslog');

    process.kill(pid, 'SIGTERM');
    const stopping = await sink.waitFor(/drain complete, exiting/);
    assert.match(stopping, /^<30>/);
    assert.equal(await gt.exited(), 0);
  });

  it('severity follows the level: a handshake error is a warning', async () => {
    const dir = tempDir();
    const sink = await datagramSink(join(dir, 'syslog'));
    sinks.push(sink);
    const gt = runGhostunnel(args(), { wrap: inNamespace(dir, join(dir, 'syslog')) });
    daemons.push(gt);
    await sink.waitFor(/listening for connections/);
    // The bound port is not in the syslog text: the kernel's socket table tells it.
    const pid = Number(/ghostunnel\[(\d+)\]/.exec(sink.messages[0]!)![1]);
    const s = connect({ port: await listeningPort(pid), host: '127.0.0.1' });
    s.on('error', () => {});
    s.end('not a TLS client hello\r\n\r\n');
    const warning = await sink.waitFor(/error on TLS handshake/);
    assert.match(warning, /^<28>/, 'facility daemon (3), severity warning (4)');
    process.kill(pid, 'SIGTERM');
    await gt.exited();
  });

  it('no syslog socket: exit 1 with "unable to set up logger"', async () => {
    const dir = tempDir();
    const gt = runGhostunnel(args(), { wrap: inNamespace(dir, '/dev/null') });
    daemons.push(gt);
    assert.equal(await gt.exited(), 1);
    assert.match(gt.stderr(), /^error: unable to set up logger: Unix syslog delivery error/m);
  });
});
