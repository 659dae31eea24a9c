import { createServer, type AddressInfo, type Socket } from 'node:net';

/** Enough of a request head to tell HTTP from anything else. */
const HTTP_REQUEST_LINE = /^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/;
const HEAD_END = '\r\n\r\n';
const MAX_HEAD = 16 * 1024;

/** Answers an HTTP request with its own head, so that curl through the tunnel shows something. */
function answerHttp(socket: Socket, head: string): void {
  const body = `ghostunnel quickstart: the backend behind the tunnel received\n\n${head.replace(/\r\n/g, '\n')}`;
  socket.end(`HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/**
 * The demo backend: an HTTP request (curl) gets a 200 whose body is the request head; anything
 * else (openssl s_client, a typed line) is echoed back byte for byte.
 */
function handle(socket: Socket): void {
  socket.on('error', () => socket.destroy());
  let seen = Buffer.alloc(0);
  const echo = (): void => {
    socket.off('data', sniff);
    socket.off('end', flush);
    socket.write(seen);
    socket.pipe(socket);
  };
  const flush = (): void => void socket.end(seen);
  const sniff = (chunk: Buffer): void => {
    seen = Buffer.concat([seen, chunk]);
    const text = seen.toString('latin1');
    const maybeHttp = HTTP_REQUEST_LINE.test(text) || (!text.includes('\n') && /^[A-Z]+( |$)/.test(text));
    if (!maybeHttp || seen.length > MAX_HEAD) return echo();
    if (!text.includes(HEAD_END)) return;
    socket.off('data', sniff);
    socket.off('end', flush);
    answerHttp(socket, text.slice(0, text.indexOf(HEAD_END) + 2));
  };
  socket.on('data', sniff);
  socket.on('end', flush);
}

/** A loopback TCP server for quickstart to forward to; returns its "127.0.0.1:PORT". */
export async function startEchoBackend(): Promise<string> {
  const server = createServer({ allowHalfOpen: true }, handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}
