// PROXY protocol v2 to the backend (spec §2.14): the header the backend receives before any client
// byte, parsed with proxy-protocol-js (addresses) and a TLV walk written here from haproxy's text.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { AddressFamilyType, Command, IPv4ProxyAddress, IPv6ProxyAddress, TransportProtocol, UnixProxyAddress, V2ProxyProtocol } from 'proxy-protocol-js';
import { readBytes } from '../helpers/clients.ts';
import { runGhostunnel, runToExit, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { unixOnly } from '../helpers/platform.ts';

interface Received {
  readonly proto: V2ProxyProtocol;
  /** TLV type → value, sub-TLVs of PP2_TYPE_SSL flattened in as well. */
  readonly tlvs: Map<number, Buffer>;
  readonly sslClient?: number;
  readonly sslVerify?: number;
  /** What followed the header. */
  readonly payload: Buffer;
}

function walkTlvs(area: Buffer, into: Map<number, Buffer>): void {
  for (let i = 0; i < area.length; ) {
    const type = area[i]!;
    const len = area.readUInt16BE(i + 1);
    into.set(type, area.subarray(i + 3, i + 3 + len));
    i += 3 + len;
  }
}

/** Splits what the backend read into header and payload, with an independent parser. */
function parse(bytes: Buffer): Received {
  const proto = V2ProxyProtocol.parse(new Uint8Array(bytes));
  const total = 16 + bytes.readUInt16BE(14);
  const addressLength = proto.proxyAddress.getLength();
  const tlvs = new Map<number, Buffer>();
  walkTlvs(bytes.subarray(16 + addressLength, total), tlvs);
  const ssl = tlvs.get(0x20);
  let sslClient: number | undefined;
  let sslVerify: number | undefined;
  if (ssl) {
    sslClient = ssl[0];
    sslVerify = ssl.readUInt32BE(1);
    walkTlvs(ssl.subarray(5), tlvs);
  }
  return { proto, tlvs, sslClient, sslVerify, payload: bytes.subarray(total) };
}

const PAYLOAD = 'first-client-bytes';

/** A backend that records each connection's bytes and answers "ok" once the payload arrived. */
async function recordingBackend(): Promise<{ server: Server; port: number; next: () => Promise<Buffer> }> {
  const queue: Buffer[] = [];
  const waiters: Array<(b: Buffer) => void> = [];
  const server = createServer((s) => {
    let got = Buffer.alloc(0);
    s.on('error', () => {});
    s.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (got.includes(PAYLOAD)) {
        s.end('ok');
        const w = waiters.shift();
        if (w) w(got);
        else queue.push(got);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    next: () => new Promise((resolve) => (queue.length ? resolve(queue.shift()!) : waiters.push(resolve))),
  };
}

describe('PROXY protocol v2 to the backend', () => {
  let ca: Ca, server: Issued, client: Issued, backend: Awaited<ReturnType<typeof recordingBackend>>;
  const daemons: Daemon[] = [];
  const start = async (listen: string, extra: string[]): Promise<Daemon> => {
    const gt = runGhostunnel(['server', '--listen', listen, '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, ...extra]);
    daemons.push(gt);
    await gt.waitForLog(/^listening for connections on/);
    return gt;
  };
  const portOf = async (gt: Daemon): Promise<number> => (await gt.address()).port;
  /** Connects (TCP host/port or a UNIX path), sends the payload, returns the local port used. */
  const send = async (to: { host: string; port: number } | { path: string }, withCert = true): Promise<{ socket: TLSSocket }> => {
    const socket = tlsConnect({
      ...to,
      servername: 'localhost',
      ca: readFileSync(ca.cert),
      ...(withCert ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    const answer = readBytes(socket, 2);
    socket.write(PAYLOAD);
    assert.equal((await answer).toString(), 'ok');
    return { socket };
  };

  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost', dns: ['localhost'], ips: ['127.0.0.1', '::1'] });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await recordingBackend();
  });
  after(async () => {
    for (const gt of daemons) await gt.stop();
    backend.server.close();
  });

  it('TCPv4 listener, --proxy-protocol: addresses only, before the client bytes', async () => {
    const gt = await start('127.0.0.1:0', ['--allow-cn', 'client', '--proxy-protocol']);
    const port = await portOf(gt);
    const { socket } = await send({ host: '127.0.0.1', port });
    const r = parse(await backend.next());
    assert.equal(r.proto.command, Command.PROXY);
    assert.equal(r.proto.transportProtocol, TransportProtocol.STREAM);
    assert.equal(r.proto.addressFamilyType, AddressFamilyType.INET);
    const a = r.proto.proxyAddress as IPv4ProxyAddress;
    assert.deepEqual(a.sourceAddress.address, [127, 0, 0, 1]);
    assert.equal(a.sourcePort, socket.localPort);
    assert.deepEqual(a.destinationAddress.address, [127, 0, 0, 1]);
    assert.equal(a.destinationPort, port);
    assert.equal(r.tlvs.size, 0);
    assert.equal(r.payload.toString(), PAYLOAD);
    socket.destroy();
  });

  it('TCPv6 listener: family TCPv6 with the client and listener addresses', async () => {
    const gt = await start('[::1]:0', ['--allow-cn', 'client', '--proxy-protocol-mode', 'conn']);
    const port = await portOf(gt);
    const { socket } = await send({ host: '::1', port });
    const r = parse(await backend.next());
    assert.equal(r.proto.addressFamilyType, AddressFamilyType.INET6);
    const a = r.proto.proxyAddress as IPv6ProxyAddress;
    const loopback = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    assert.deepEqual(a.sourceAddress.address, loopback);
    assert.equal(a.sourcePort, socket.localPort);
    assert.deepEqual(a.destinationAddress.address, loopback);
    assert.equal(a.destinationPort, port);
    assert.equal(r.payload.toString(), PAYLOAD);
    socket.destroy();
  });

  it('UNIX listener: family UNIX stream, destination is the socket path', { skip: unixOnly('listens on a UNIX socket') }, async () => {
    const path = join(tempDir(), 'gt.sock');
    await start(`unix:${path}`, ['--allow-cn', 'client', '--proxy-protocol']);
    const { socket } = await send({ path });
    const r = parse(await backend.next());
    assert.equal(r.proto.addressFamilyType, AddressFamilyType.UNIX);
    const a = r.proto.proxyAddress as UnixProxyAddress;
    const text = (bytes: number[]): string => Buffer.from(bytes).toString().replace(/\0+$/, '');
    assert.equal(text(a.destinationAddress.address), path);
    assert.equal(text(a.sourceAddress.address), '');
    assert.equal(r.payload.toString(), PAYLOAD);
    socket.destroy();
  });

  it('mode tls: SNI as AUTHORITY, SSL TLV with the version, no client details', async () => {
    const gt = await start('127.0.0.1:0', ['--allow-cn', 'client', '--proxy-protocol-mode', 'tls']);
    const { socket } = await send({ host: '127.0.0.1', port: await portOf(gt) });
    const r = parse(await backend.next());
    assert.equal(r.tlvs.get(0x02)?.toString(), 'localhost');
    assert.equal(r.tlvs.has(0x01), false, 'no ALPN is negotiated');
    assert.equal(r.sslClient, 0x01);
    assert.equal(r.sslVerify, 0);
    assert.equal(r.tlvs.get(0x21)?.toString(), 'TLS 1.3');
    assert.equal(r.tlvs.has(0x22), false);
    assert.equal(r.tlvs.has(0x28), false);
    assert.equal(r.payload.toString(), PAYLOAD);
    socket.destroy();
  });

  it('mode tls-full: client certificate flags, CN and DER', async () => {
    const gt = await start('127.0.0.1:0', ['--allow-cn', 'client', '--proxy-protocol-mode', 'tls-full']);
    const { socket } = await send({ host: '127.0.0.1', port: await portOf(gt) });
    const r = parse(await backend.next());
    assert.equal(r.sslClient, 0x07);
    assert.equal(r.sslVerify, 0);
    assert.equal(r.tlvs.get(0x21)?.toString(), 'TLS 1.3');
    assert.equal(r.tlvs.get(0x22)?.toString(), 'client');
    assert.deepEqual(r.tlvs.get(0x28), new X509Certificate(readFileSync(client.cert)).raw);
    assert.equal(r.tlvs.get(0x02)?.toString(), 'localhost');
    assert.equal(r.payload.toString(), PAYLOAD);
    socket.destroy();
  });

  it('mode tls-full without a client certificate: only the SSL flag and version', async () => {
    const gt = await start('127.0.0.1:0', ['--disable-authentication', '--proxy-protocol-mode', 'tls-full']);
    const { socket } = await send({ host: '127.0.0.1', port: await portOf(gt) }, false);
    const r = parse(await backend.next());
    assert.equal(r.sslClient, 0x01);
    assert.equal(r.tlvs.get(0x21)?.toString(), 'TLS 1.3');
    assert.equal(r.tlvs.has(0x22), false);
    assert.equal(r.tlvs.has(0x28), false);
    socket.destroy();
  });

  it('--proxy-protocol and --proxy-protocol-mode are mutually exclusive', async () => {
    const r = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:1', '--cert', server.cert, '--key', server.key, '--allow-all', '--proxy-protocol', '--proxy-protocol-mode', 'tls']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--proxy-protocol and --proxy-protocol-mode are mutually exclusive/);
  });
});
