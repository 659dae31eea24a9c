// A TLS ClientHello read from the first bytes a client sent, before any TLS state exists: the node
// data plane picks a connection's context from it (src/engine/node-connection.ts), and the
// TLS-ALPN-01 port its certificate (src/credentials/acme/validation-port.ts). Both need SNI and
// ALPN at once, which OpenSSL's callbacks do not give (SNI comes before ALPN in TLS 1.2, after it
// in 1.3, and no ALPN extension means no ALPN callback). RFC 8446 §4.1.2, RFC 6066 §3, RFC 7301 §3.1.

/** What a certificate is chosen by. */
export interface HelloNames {
  /** The SNI host name; undefined when none was sent. */
  readonly serverName: string | undefined;
  /** The ALPN protocols offered, in order; empty when the extension is absent. */
  readonly alpn: readonly string[];
}

/** What the node plane picks a context by: the names, and whether a session ticket is of use. */
export interface ClientHelloSummary extends HelloNames {
  /** It offers psk_key_exchange_modes (TLS 1.3) or session_ticket (TLS 1.2). */
  readonly resumable: boolean;
}

/** Undefined: more bytes are needed. 'malformed': not a TLS ClientHello, or one too large to be read. */
export type HelloReading<T> = T | 'malformed' | undefined;

/** A hello fits in one record; a hybrid key share makes it 1.3 KiB. Four records is plenty. */
const MAX_HELLO = 4 * (5 + 16384);
const HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SESSION_TICKET = 35;
const EXT_PSK_KEX_MODES = 45;

/** The ClientHello's handshake message from the first records of `bytes`, once it is complete. */
function helloMessage(bytes: Buffer): HelloReading<Buffer> {
  const fragments: Buffer[] = [];
  let have = 0;
  for (let at = 0; ; ) {
    // A record that is not a TLS handshake is refused at its first bytes, without waiting for more.
    if ((bytes.length > at && bytes[at] !== HANDSHAKE) || (bytes.length > at + 1 && bytes[at + 1] !== 3)) return 'malformed';
    if (at + 5 > bytes.length) return bytes.length > MAX_HELLO ? 'malformed' : undefined;
    const length = bytes.readUInt16BE(at + 3);
    if (at + 5 + length > bytes.length) return bytes.length > MAX_HELLO ? 'malformed' : undefined;
    fragments.push(bytes.subarray(at + 5, at + 5 + length));
    have += length;
    at += 5 + length;
    if (have >= 4) {
      // Nearly every hello is one record: read it in place, with no copy.
      const message = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments);
      if (message[0] !== CLIENT_HELLO) return 'malformed';
      const size = 4 + message.readUIntBE(1, 3);
      if (size > MAX_HELLO) return 'malformed';
      if (message.length >= size) return message.subarray(0, size);
    }
  }
}

/** The hello's extensions by type, from its complete handshake message. */
function extensions(message: Buffer): Map<number, Buffer> | 'malformed' {
  const found = new Map<number, Buffer>();
  try {
    let at = 4 + 2 + 32; // header, legacy_version, random
    at += 1 + message[at]!; // legacy_session_id
    at += 2 + message.readUInt16BE(at); // cipher_suites
    at += 1 + message[at]!; // legacy_compression_methods
    if (at === message.length) return found;
    const end = at + 2 + message.readUInt16BE(at);
    if (end > message.length) return 'malformed';
    for (at += 2; at + 4 <= end; ) {
      const type = message.readUInt16BE(at);
      const data = message.subarray(at + 4, at + 4 + message.readUInt16BE(at + 2));
      at += 4 + data.length;
      found.set(type, data);
    }
    return found;
  } catch {
    // A length that runs past the message (RangeError from the reads).
    return 'malformed';
  }
}

/** SNI: a list of (type, name); the host_name entry. */
function serverName(data: Buffer | undefined): string | undefined {
  if (data === undefined || data.length < 5 || data[2] !== 0) return undefined;
  const n = data.readUInt16BE(3);
  return 5 + n <= data.length ? data.subarray(5, 5 + n).toString('latin1') : undefined;
}

/** ALPN: a 2-byte list length, then length-prefixed names. */
function alpnList(data: Buffer | undefined): string[] {
  const names: string[] = [];
  if (data === undefined) return names;
  const end = Math.min(data.length, 2 + (data.length >= 2 ? data.readUInt16BE(0) : 0));
  for (let at = 2; at < end; ) {
    const n = data[at]!;
    names.push(data.subarray(at + 1, at + 1 + n).toString('latin1'));
    at += 1 + n;
  }
  return names;
}

function read(bytes: Buffer): HelloReading<Map<number, Buffer>> {
  const message = helloMessage(bytes);
  return message === undefined || message === 'malformed' ? message : extensions(message);
}

function names(found: Map<number, Buffer>): HelloNames {
  return { serverName: serverName(found.get(EXT_SERVER_NAME)), alpn: alpnList(found.get(EXT_ALPN)) };
}

/** SNI and ALPN from the first bytes a client sent. */
export function readClientHello(bytes: Buffer): HelloReading<HelloNames> {
  const found = read(bytes);
  return typeof found === 'object' ? names(found) : found;
}

/** The same, and whether the client can resume a session. */
export function readClientHelloSummary(bytes: Buffer): HelloReading<ClientHelloSummary> {
  const found = read(bytes);
  return typeof found === 'object' ? { ...names(found), resumable: found.has(EXT_SESSION_TICKET) || found.has(EXT_PSK_KEX_MODES) } : found;
}
