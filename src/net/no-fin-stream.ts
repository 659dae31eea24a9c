import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

/**
 * The socket as a stream whose end() does not shut down the TCP write side. TLS running over it
 * half-closes with close_notify alone and keeps the TCP connection open, as Go's tls.Conn.CloseWrite
 * does: HTTP CONNECT and SOCKS proxies (tinyproxy, microsocks) tear the whole tunnel down on the
 * first FIN, which would cut off the answer still on its way back. The socket is closed when the
 * stream is destroyed, i.e. once both directions are done.
 */
export function withoutFin(socket: Socket): Duplex {
  const stream = new Duplex({
    allowHalfOpen: true,
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      callback();
    },
    destroy(err, callback) {
      socket.destroy();
      callback(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('error', (err) => stream.destroy(err));
  socket.on('close', () => stream.destroy());
  return stream;
}
