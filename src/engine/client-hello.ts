// The first TLS record of a connection, read by the node data plane before any TLS state exists
// (src/engine/node-connection.ts): what it needs to pick the connection's context.

/** What a TLS ClientHello asks for, as far as choosing a context needs: SNI, ALPN, and whether it can resume. */
export interface ClientHelloSummary {
  readonly serverName: string | undefined;
  readonly alpn: readonly string[];
  /** It offers psk_key_exchange_modes (TLS 1.3) or session_ticket (TLS 1.2): a ticket is of use to it. */
  readonly resumable: boolean;
}

const RECORD_HEADER = 5;
const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
const EXT_SESSION_TICKET = 0x0023;
const EXT_PSK_KEX_MODES = 0x002d;

/**
 * How many bytes the first TLS record needs in total, from the bytes seen so far: undefined while
 * fewer than 5 arrived, 0 when this is not a TLS handshake record at all.
 */
export function firstRecordLength(head: Buffer): number | undefined {
  if (head.length === 0) return undefined;
  if (head[0] !== HANDSHAKE) return 0;
  if (head.length < RECORD_HEADER) return undefined;
  return RECORD_HEADER + head.readUInt16BE(3);
}

/** A bounds-checked reader over one buffer; any overrun throws, which the caller takes as "not a ClientHello". */
class Reader {
  #buf: Buffer;
  #at: number;
  constructor(buf: Buffer, at = 0) {
    this.#buf = buf;
    this.#at = at;
  }
  get done(): boolean {
    return this.#at >= this.#buf.length;
  }
  u8(): number {
    return this.#buf.readUInt8(this.#at++);
  }
  u16(): number {
    const v = this.#buf.readUInt16BE(this.#at);
    this.#at += 2;
    return v;
  }
  u24(): number {
    return (this.u8() << 16) | this.u16();
  }
  bytes(n: number): Buffer {
    if (this.#at + n > this.#buf.length) throw new RangeError('truncated');
    const out = this.#buf.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
  /** Everything not read yet. */
  rest(): Buffer {
    return this.bytes(this.#buf.length - this.#at);
  }
  /** A sub-reader over a vector with a 1-, 2- or 3-byte length prefix. */
  vector(prefix: 1 | 2 | 3): Reader {
    const n = prefix === 1 ? this.u8() : prefix === 2 ? this.u16() : this.u24();
    return new Reader(this.bytes(n));
  }
}

function serverName(ext: Reader): string | undefined {
  const list = ext.vector(2);
  while (!list.done) {
    const type = list.u8();
    const name = list.vector(2).rest();
    if (type === 0) return name.toString('latin1');
  }
  return undefined;
}

function alpnList(ext: Reader): string[] {
  const list = ext.vector(2);
  const out: string[] = [];
  while (!list.done) out.push(list.vector(1).rest().toString('latin1'));
  return out;
}

/**
 * Reads SNI and ALPN from the first TLS record (RFC 8446 §4.1.2, RFC 6066 §3, RFC 7301 §3.1).
 * Undefined when the record is not a ClientHello or does not hold it whole (a ClientHello split
 * over several records, which no ACME validator sends).
 */
export function parseClientHello(record: Buffer): ClientHelloSummary | undefined {
  try {
    const r = new Reader(record);
    if (r.u8() !== HANDSHAKE) return undefined;
    r.u16();
    const fragment = r.vector(2);
    if (fragment.u8() !== CLIENT_HELLO) return undefined;
    const hello = fragment.vector(3);
    hello.bytes(2 + 32);
    hello.vector(1);
    hello.vector(2);
    hello.vector(1);
    if (hello.done) return { serverName: undefined, alpn: [], resumable: false };
    const extensions = hello.vector(2);
    let name: string | undefined;
    let alpn: string[] = [];
    let resumable = false;
    while (!extensions.done) {
      const type = extensions.u16();
      const body = extensions.vector(2);
      if (type === EXT_SERVER_NAME) name = serverName(body);
      else if (type === EXT_ALPN) alpn = alpnList(body);
      else if (type === EXT_SESSION_TICKET || type === EXT_PSK_KEX_MODES) resumable = true;
    }
    return { serverName: name, alpn, resumable };
  } catch {
    return undefined;
  }
}
