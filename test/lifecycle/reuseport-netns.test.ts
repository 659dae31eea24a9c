// Ghostunnel's replacement procedure (a successor bound with SO_REUSEPORT, then SIGTERM to the old
// process) loses no connection when the kernel moves the old listener's queued connections to the
// successor (net.ipv4.tcp_migrate_req=1, Linux 5.14+) and the old process serves the handshakes it
// has already accepted. Run in a private network namespace, where the sysctl can be set without
// touching the machine's.
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runGhostunnel } from '../helpers/daemon.ts';
import { issue, makeCa } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';

const RUNNER = fileURLToPath(new URL('../helpers/reuseport-replacements.ts', import.meta.url));

/** A command line run in a fresh network namespace with loopback up and the sysctl set. */
function inNamespace(migrate: 0 | 1): string[] {
  return ['unshare', '-n', 'sh', '-c', `ip link set lo up && sysctl -qw net.ipv4.tcp_migrate_req=${migrate} && exec "$@"`, 'sh'];
}

function requireNamespaces(): void {
  const probe = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up && sysctl -qw net.ipv4.tcp_migrate_req=1'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    assert.fail(`needs unshare -n, ip and sysctl as root (Debian packages util-linux, iproute2, procps): ${(probe.stderr || probe.error?.message || '').trim()}`);
  }
}

describe('reusePort replacement with net.ipv4.tcp_migrate_req=1', { timeout: 300_000, skip: linuxOnly('runs unshare -n, ip and sysctl') }, () => {
  it('20 replacements under handshake and request/response load: 0 failed connections', async (t) => {
    requireNamespaces();
    const [command, ...args] = [...inNamespace(1), process.execPath, RUNNER, '20'];
    const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, `the replacement runner failed: ${err}`);
    const result = JSON.parse(out.trim().split('\n').pop()!) as {
      summary: string;
      handshakes: { ok: number; failed: number };
      roundTrips: { ok: number; failedConnections: number };
      checker: { verified: number; failedConnections: number; corrupted: number };
      exits: Array<number | string>;
      warnings: string[];
    };
    t.diagnostic(result.summary);
    assert.ok(result.handshakes.ok > 0 && result.roundTrips.ok > 0 && result.checker.verified > 0, 'the load ran');
    assert.equal(result.handshakes.failed, 0, 'failed handshakes');
    assert.equal(result.roundTrips.failedConnections, 0, 'failed request/response connections');
    assert.equal(result.checker.failedConnections, 0, 'failed checker connections');
    assert.equal(result.checker.corrupted, 0, 'corrupted transfers');
    assert.deepEqual(result.exits, Array(21).fill(0), 'every generation drained and exited 0');
    assert.deepEqual(result.warnings, [], 'no warning with the sysctl at 1');
  });

  it('with the sysctl at 0, the start-up log warns once', async () => {
    requireNamespaces();
    const ca = makeCa();
    const server = issue(ca, 'server', { cn: 'localhost' });
    const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:9', '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-all'], { wrap: inNamespace(0) });
    try {
      await gt.address();
      const warnings = gt.lines.filter((l) => /tcp_migrate_req/.test(l.msg));
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]!.level, 'warn');
      assert.match(warnings[0]!.msg, /^net\.ipv4\.tcp_migrate_req is 0: connections still queued when this process stops listening are reset/);
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  });
});
