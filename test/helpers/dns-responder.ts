// A DNS server for one resolver the test configures (Pebble's -dnsserver): every A question is
// answered with 127.0.0.1, every other question with an empty answer, so that names the test makes
// up lead to this machine and nowhere else.
import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

const TYPE_A = 1;

export interface DnsResponder {
  readonly port: number;
  /** The names asked for so far, with their question type ("A", "AAAA" or the number). */
  readonly questions: string[];
  close(): Promise<void>;
}

/** The question's name and where it ends, from a query (RFC 1035 §4.1.2; queries use no compression). */
function readQuestion(msg: Buffer): { name: string; end: number; type: number } {
  const labels: string[] = [];
  let at = 12;
  while (msg[at]! !== 0) {
    const len = msg[at]!;
    labels.push(msg.subarray(at + 1, at + 1 + len).toString('latin1'));
    at += 1 + len;
  }
  at += 1;
  return { name: labels.join('.'), end: at + 4, type: msg.readUInt16BE(at) };
}

export async function dnsResponder(): Promise<DnsResponder> {
  const socket = createSocket('udp4');
  const questions: string[] = [];
  socket.on('message', (query, from) => {
    if (query.length < 12 || query.readUInt16BE(4) !== 1) return;
    const q = readQuestion(query);
    questions.push(`${q.name} ${q.type === TYPE_A ? 'A' : q.type === 28 ? 'AAAA' : q.type}`);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0);
    // QR, AA, and the query's RD bit; RA; NOERROR.
    header.writeUInt16BE(0x8480 | (query.readUInt16BE(2) & 0x0100), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(q.type === TYPE_A ? 1 : 0, 6);
    const question = query.subarray(12, q.end);
    const answer = q.type === TYPE_A ? Buffer.from([0xc0, 0x0c, 0, TYPE_A, 0, 1, 0, 0, 0, 5, 0, 4, 127, 0, 0, 1]) : Buffer.alloc(0);
    socket.send(Buffer.concat([header, question, answer]), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.unref();
  return {
    port: (socket.address() as AddressInfo).port,
    questions,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
