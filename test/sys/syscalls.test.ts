// The system calls src/sys/linux.ts makes are served by the native data plane's addon once it is
// loaded, or by koffi (--data-plane node, no addon built): both must give the same results,
// failures (errno) included.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadAddon, loadedAddonSyscalls, type AddonSyscalls } from '../../src/engine/native.ts';
import { koffiSyscalls } from '../../src/sys/linux.ts';
import { datagramSink } from '../helpers/datagram-sink.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { inetAddress, portOf } from '../../src/sys/socket-address.ts';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const F_DUPFD_CLOEXEC = 1030;
const F_GETFD = 1;
const EBADF = 9;
const EADDRINUSE = 98;
const ENOENT = 2;
const MSG_DONTWAIT = 0x40;

function unixAddress(path: string): Buffer {
  const addr = Buffer.alloc(2 + Buffer.byteLength(path) + 1);
  addr.writeUInt16LE(AF_UNIX, 0);
  addr.write(path, 2);
  return addr;
}

const LINUX = linuxOnly('Linux system calls, values and layouts');

/** Why the addon's table cannot be tested here (not built: an install without a compiler), or false. */
function addonMissing(): string | false {
  if (LINUX !== false) return LINUX;
  try {
    loadAddon();
    return false;
  } catch (err) {
    return `the native data plane is not built (${(err as Error).message})`;
  }
}

const ADDON_MISSING = addonMissing();

const tables: Array<[string, () => AddonSyscalls, string | false]> = [
  ['addon', () => loadedAddonSyscalls()!, ADDON_MISSING],
  ['koffi', koffiSyscalls, LINUX],
];

describe('system calls', () => {
  it('the addon serves them', { skip: ADDON_MISSING }, () => assert.ok(loadedAddonSyscalls() !== undefined, 'build/Release/ghostunnel_engine.node has no syscalls table: rebuild with npm run build:native'));

  for (const [name, table, skip] of tables) {
    it(`${name}: bind, getsockname, listen, dup and close a TCP socket; errno on failure`, { skip }, async () => {
      const c = table();
      const { family, sockaddr } = inetAddress('127.0.0.1', 0, () => 0);
      const fd = c.socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      assert.ok(fd >= 3);
      assert.equal(c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, Buffer.from(new Int32Array([1]).buffer)), 0);
      assert.equal(c.bind(fd, sockaddr), 0);
      const bound = Buffer.alloc(28);
      assert.equal(c.getsockname(fd, bound), 16);
      const port = portOf(bound);
      assert.ok(port > 0);
      assert.equal(c.listen(fd, 16), 0);
      const copy = c.fcntl(fd, F_DUPFD_CLOEXEC, 3);
      assert.ok(copy > fd);
      assert.equal(c.fcntl(copy, F_GETFD, 0), 1, 'close-on-exec');
      // The duplicate accepts: a Node server on it takes a connection to the port.
      const server = createServer((s) => s.end('hi'));
      server.listen({ fd: copy });
      await once(server, 'listening');
      const { connect } = await import('node:net');
      const client = connect(port, '127.0.0.1');
      let got = '';
      client.setEncoding('utf8').on('data', (d: string) => (got += d));
      await once(client, 'end');
      assert.equal(got, 'hi');
      server.close();
      // A second bind on the port, without SO_REUSEPORT: EADDRINUSE, read through errno().
      const other = c.socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      assert.equal(c.bind(other, inetAddress('127.0.0.1', port, () => 0).sockaddr), -1);
      assert.equal(c.errno(), EADDRINUSE);
      assert.equal(c.close(other), 0);
      assert.equal(c.close(fd), 0);
      assert.equal(c.close(fd), -1);
      assert.equal(c.errno(), EBADF);
      assert.equal(c.ifNameToIndex('lo'), 1);
      assert.equal(c.ifNameToIndex('no-such-interface'), 0);
    });

    it(`${name}: UNIX stream and datagram sockets`, { skip }, async () => {
      const c = table();
      const dir = mkdtempSync(join(tmpdir(), 'syscalls-'));
      try {
        const path = join(dir, 'stream.sock');
        const fd = c.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert.equal(c.bind(fd, unixAddress(path)), 0);
        assert.ok(statSync(path).isSocket());
        const name = Buffer.alloc(110);
        const len = c.getsockname(fd, name);
        assert.equal(name.subarray(2, len).toString().replace(/\0+$/, ''), path);
        c.close(fd);
        const sink = await datagramSink(join(dir, 'dgram.sock'));
        const d = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert.equal(c.connect(d, unixAddress(join(dir, 'missing.sock'))), -1);
        assert.equal(c.errno(), ENOENT);
        assert.equal(c.connect(d, unixAddress(sink.path)), 0);
        assert.equal(c.send(d, Buffer.from(`hello from ${name}`), MSG_DONTWAIT), `hello from ${name}`.length);
        await sink.waitFor(new RegExp(`hello from ${name}`));
        sink.close();
        c.close(d);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
