// The listener's portable route (macOS, Windows: no descriptor calls), run here with that platform
// passed in: Node holds the listening socket, and what arrives while the listener is paused (or
// not started yet) waits, unread, in a queue as long as the backlog, as the kernel's would.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer as createHttpServer, get } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAddress } from '../../src/net/address.ts';
import { HeldSocket } from '../../src/net/held-socket.ts';
import { listen } from '../../src/net/listen.ts';
import { Listener, SOCKET_OPTIONS, socketAcceptor } from '../../src/net/listener.ts';
import { systemFor } from '../../src/sys/platform.ts';
import { tempDir } from '../helpers/pki.ts';

const portable = systemFor('darwin');

/** Answers the first chunk a connection sends with "served <chunk>", then ends it. */
const echoOnce = socketAcceptor((socket) => socket.once('data', (d) => socket.end(`served ${d}`)));

/** Connects, sends `text` and resolves with everything read until the connection is gone (ended or reset). */
function exchange(port: number, text: string): { reply: Promise<string> } {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.write(text);
  let got = '';
  socket.setEncoding('utf8').on('data', (d: string) => (got += d));
  socket.on('error', () => {});
  return { reply: new Promise<string>((resolve) => socket.once('close', () => resolve(got))) };
}

async function held(backlog: number): Promise<{ server: Server; socket: HeldSocket; accepted: () => Promise<void> }> {
  const server = createServer({ ...SOCKET_OPTIONS, pauseOnConnect: true });
  server.listen({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const socket = new HeldSocket(server, backlog);
  // Added after the HeldSocket's own handler: it has queued (or passed on) the connection by then.
  const arrivals: Array<() => void> = [];
  let count = 0;
  server.on('connection', () => {
    count++;
    for (const wake of arrivals.splice(0)) wake();
  });
  let seen = 0;
  const accepted = async (): Promise<void> => {
    while (count <= seen) await new Promise<void>((r) => arrivals.push(r));
    seen++;
  };
  return { server, socket, accepted };
}

describe('the portable listener', () => {
  it('listen() without descriptor calls: Node holds a TCP or UNIX socket, which serves HTTP as the status port does', async () => {
    const http = createHttpServer((_req, res) => res.end('status ok'));
    http.emit('listening');
    const viaHttp = socketAcceptor((socket) => http.emit('connection', socket));
    const dir = tempDir('gt-portable-');
    const path = join(dir, 'status.sock');
    for (const address of ['127.0.0.1:0', '[::1]:0', `unix:${path}`]) {
      const listener = await listen(parseAddress(address), { role: 'status', acceptor: viaHttp, system: portable });
      assert.equal(listener.fd, undefined, 'no descriptor: nothing to pass to workers or a successor');
      const target = address.startsWith('unix:') ? { socketPath: path } : { port: Number(listener.address.split(':').at(-1)), host: address.startsWith('[') ? '::1' : '127.0.0.1' };
      assert.match(listener.address, address.startsWith('unix:') ? new RegExp(`^${path}$`) : address.startsWith('[') ? /^\[::1\]:\d+$/ : /^127\.0\.0\.1:\d+$/);
      listener.start();
      const body = await new Promise<string>((resolve, reject) => {
        get({ ...target, path: '/' }, (res) => res.setEncoding('utf8').on('data', resolve)).on('error', reject);
      });
      assert.equal(body, 'status ok', address);
      listener.close();
      if (address.startsWith('unix:')) assert.equal(existsSync(path), false, 'the socket path is removed on close');
    }
    http.close();
  });

  it('an address in use is a start-up error naming it', async () => {
    const first = await listen(parseAddress('127.0.0.1:0'), { role: 'listen', acceptor: echoOnce, system: portable });
    await assert.rejects(listen(parseAddress(first.address), { role: 'listen', acceptor: echoOnce, system: portable }), {
      message: `unable to listen on ${first.address}: listen tcp ${first.address}: bind: address already in use`,
    });
    first.close();
  });

  it('before it starts and while paused, connections wait unread and are served in order after; beyond the backlog they are closed', async () => {
    const { server, socket, accepted } = await held(2);
    const { port } = server.address() as { port: number };
    const listener = new Listener({ held: socket, address: `127.0.0.1:${port}`, ownedPath: undefined, name: 'ghostunnel-listen', listening: true }, { acceptor: echoOnce });

    const first = exchange(port, 'first');
    await accepted();
    const second = exchange(port, 'second');
    await accepted();
    const third = exchange(port, 'third');
    await accepted();
    assert.equal(await third.reply, '', 'the third exceeds the backlog of 2: closed unserved');

    listener.start();
    assert.equal(await first.reply, 'served first', 'bytes sent before the start are all there');
    assert.equal(await second.reply, 'served second');

    listener.pause('full');
    const waiting = exchange(port, 'waiting');
    await accepted();
    assert.equal(listener.accepting, false);
    listener.resume('full');
    assert.equal(await waiting.reply, 'served waiting');

    listener.pause('full');
    const dropped = exchange(port, 'dropped');
    await accepted();
    listener.close();
    assert.equal(await dropped.reply, '', 'closing drops the queue');
    assert.equal(server.listening, false);
  });

  it('an acceptor that only accepts on descriptors cannot serve a socket Node holds', async () => {
    const { socket } = await held(1);
    const listener = new Listener({ held: socket, address: '', ownedPath: undefined, name: 'ghostunnel-listen', listening: true }, { acceptor: { start: () => () => {} } });
    assert.throws(() => listener.start(), { message: 'internal: this acceptor accepts on descriptors only, and Node holds the listening socket here' });
    listener.close();
  });
});
