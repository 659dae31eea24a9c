/** What a TLS-ALPN-01 responder needs to know of a ClientHello before choosing a certificate. */
export interface HelloNames {
  /** The SNI host name; undefined when none was sent. */
  readonly serverName: string | undefined;
  /** The ALPN protocols offered, in order; empty when the extension is absent. */
  readonly alpn: readonly string[];
}

/** Undefined: more bytes are needed. 'malformed': not a TLS ClientHello, or one too large to be a validator's. */
export type HelloReading = HelloNames | 'malformed' | undefined;

/** A validator's hello fits in one record; a hybrid key share makes it 1.3 KiB. Four records is plenty. */
const MAX_HELLO = 4 * (5 + 16384);
const HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;

/** The ClientHello's handshake message from the first records of `bytes`, once it is complete. */
function helloMessage(bytes: Buffer): Buffer | 'malformed' | undefined {
  const fragments: Buffer[] = [];
  let have = 0;
  for (let at = 0; ; ) {
    if (at + 5 > bytes.length) return bytes.length > MAX_HELLO ? 'malformed' : undefined;
    if (bytes[at] !== HANDSHAKE || bytes[at + 1] !== 3) return 'malformed';
    const length = bytes.readUInt16BE(at + 3);
    if (at + 5 + length > bytes.length) return bytes.length > MAX_HELLO ? 'malformed' : undefined;
    fragments.push(bytes.subarray(at + 5, at + 5 + length));
    have += length;
    at += 5 + length;
    if (have >= 4) {
      const message = Buffer.concat(fragments);
      if (message[0] !== CLIENT_HELLO) return 'malformed';
      const size = 4 + message.readUIntBE(1, 3);
      if (size > MAX_HELLO) return 'malformed';
      if (message.length >= size) return message.subarray(0, size);
    }
  }
}

/** SNI (RFC 6066 §3): a list of (type, name); the host_name entry. */
function serverName(data: Buffer): string | undefined {
  if (data.length < 5 || data[2] !== 0) return undefined;
  const n = data.readUInt16BE(3);
  return 5 + n <= data.length ? data.subarray(5, 5 + n).toString('latin1') : undefined;
}

/** ALPN (RFC 7301 §3.1): a 2-byte list length, then length-prefixed names. */
function alpnList(data: Buffer): string[] {
  const names: string[] = [];
  const end = Math.min(data.length, 2 + (data.length >= 2 ? data.readUInt16BE(0) : 0));
  for (let at = 2; at < end; ) {
    const n = data[at]!;
    names.push(data.subarray(at + 1, at + 1 + n).toString('latin1'));
    at += 1 + n;
  }
  return names;
}

/**
 * Reads SNI and ALPN from the first bytes a client sent (RFC 8446 §4.1.2), before any TLS state
 * exists: a certificate is chosen from both at once, which OpenSSL's callbacks do not allow (SNI
 * comes before ALPN in TLS 1.2, after it in 1.3, and no ALPN extension means no ALPN callback).
 */
export function readClientHello(bytes: Buffer): HelloReading {
  const message = helloMessage(bytes);
  if (message === undefined || message === 'malformed') return message;
  try {
    let at = 4 + 2 + 32; // header, legacy_version, random
    at += 1 + message[at]!; // legacy_session_id
    at += 2 + message.readUInt16BE(at); // cipher_suites
    at += 1 + message[at]!; // legacy_compression_methods
    if (at === message.length) return { serverName: undefined, alpn: [] };
    const end = at + 2 + message.readUInt16BE(at);
    if (end > message.length) return 'malformed';
    let name: string | undefined;
    let alpn: string[] = [];
    for (at += 2; at + 4 <= end; ) {
      const type = message.readUInt16BE(at);
      const data = message.subarray(at + 4, at + 4 + message.readUInt16BE(at + 2));
      at += 4 + data.length;
      if (type === EXT_SERVER_NAME) name = serverName(data);
      if (type === EXT_ALPN) alpn = alpnList(data);
    }
    return { serverName: name, alpn };
  } catch {
    // A length that runs past the message (RangeError from the reads).
    return 'malformed';
  }
}
