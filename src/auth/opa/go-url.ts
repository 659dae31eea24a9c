/**
 * Go's net/url.Parse, as crypto/x509 applies it to URI SANs, and the JSON encoding of the
 * resulting url.URL: policies read input.certificate.URIs[i].Scheme/.Host/.Path, so the split and
 * the unescaping must be Go's, not WHATWG's (which, for one, lower-cases and punycodes hosts).
 */
export interface GoUrl {
  readonly Scheme: string;
  readonly Opaque: string;
  /** url.Userinfo has only unexported fields: Go encodes a present one as {}. */
  readonly User: Record<string, never> | null;
  readonly Host: string;
  readonly Path: string;
  readonly RawPath: string;
  readonly OmitHost: boolean;
  readonly ForceQuery: boolean;
  readonly RawQuery: string;
  readonly Fragment: string;
  readonly RawFragment: string;
}

type Mode = 'path' | 'host' | 'zone' | 'userPassword' | 'fragment';

function isAlnum(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39);
}

/** net/url's shouldEscape, for the modes URL parsing uses. */
function shouldEscape(c: number, mode: Mode): boolean {
  if (isAlnum(c)) return false;
  const ch = String.fromCharCode(c);
  if ((mode === 'host' || mode === 'zone') && `!$&'()*+,;=:[]<>"`.includes(ch)) return false;
  if ('-_.~'.includes(ch)) return false;
  if ('$&+,/:;=?@'.includes(ch)) {
    if (mode === 'userPassword') return '@/?:'.includes(ch);
    if (mode === 'path') return ch === '?';
    if (mode === 'fragment') return false;
  }
  if (mode === 'fragment' && '!()*'.includes(ch)) return false;
  return true;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** net/url's unescape: percent-decodes to bytes, with Go's checks for hosts and zones. */
function unescape(s: string, mode: Mode): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; ) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      if (i + 2 >= s.length || !isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) throw new Error(`invalid URL escape "${s.slice(i, i + 3)}"`);
      const v = parseInt(s.slice(i + 1, i + 3), 16);
      if (mode === 'host' && v < 0x80 && s.slice(i, i + 3) !== '%25') throw new Error(`invalid URL escape "${s.slice(i, i + 3)}"`);
      if (mode === 'zone' && s.slice(i, i + 3) !== '%25' && v !== 0x20 && shouldEscape(v, 'host')) throw new Error(`invalid URL escape "${s.slice(i, i + 3)}"`);
      out.push(v);
      i += 3;
      continue;
    }
    if ((mode === 'host' || mode === 'zone') && c < 0x80 && shouldEscape(c, mode)) throw new Error(`invalid character "${s[i]}" in host name`);
    out.push(c);
    i++;
  }
  return Uint8Array.from(out);
}

function escape(bytes: Uint8Array, mode: Mode): string {
  let s = '';
  for (const c of bytes) s += shouldEscape(c, mode) ? `%${c.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(c);
  return s;
}

const utf8 = new TextDecoder('utf-8');

/** Path and fragment: the decoded text, and the raw form only when it is not the default escaping. */
function decoded(raw: string, mode: 'path' | 'fragment'): [string, string] {
  const bytes = unescape(raw, mode);
  return [utf8.decode(bytes), escape(bytes, mode) === raw ? '' : raw];
}

function getScheme(raw: string): [string, string] {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) continue;
    if ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e) {
      if (i === 0) return ['', raw];
      continue;
    }
    if (c === 0x3a) {
      if (i === 0) throw new Error('missing protocol scheme');
      return [raw.slice(0, i), raw.slice(i + 1)];
    }
    return ['', raw];
  }
  return ['', raw];
}

function validOptionalPort(port: string): boolean {
  return port === '' || (port[0] === ':' && /^[0-9]*$/.test(port.slice(1)));
}

function parseHost(host: string): string {
  if (host.startsWith('[')) {
    const close = host.lastIndexOf(']');
    if (close < 0) throw new Error("missing ']' in host");
    const colonPort = host.slice(close + 1);
    if (!validOptionalPort(colonPort)) throw new Error(`invalid port "${colonPort}" after host`);
    const zone = host.slice(0, close).indexOf('%25');
    if (zone >= 0) {
      const h1 = utf8.decode(unescape(host.slice(0, zone), 'host'));
      const h2 = utf8.decode(unescape(host.slice(zone, close), 'zone'));
      const h3 = utf8.decode(unescape(host.slice(close), 'host'));
      return h1 + h2 + h3;
    }
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0 && !validOptionalPort(host.slice(colon))) throw new Error(`invalid port "${host.slice(colon)}" after host`);
  }
  return utf8.decode(unescape(host, 'host'));
}

function validUserinfo(s: string): boolean {
  return /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(s);
}

function parseAuthority(authority: string): { user: GoUrl['User']; host: string } {
  const at = authority.lastIndexOf('@');
  const host = parseHost(at < 0 ? authority : authority.slice(at + 1));
  if (at < 0) return { user: null, host };
  const userinfo = authority.slice(0, at);
  if (!validUserinfo(userinfo)) throw new Error('net/url: invalid userinfo');
  const colon = userinfo.indexOf(':');
  unescape(colon < 0 ? userinfo : userinfo.slice(0, colon), 'userPassword');
  if (colon >= 0) unescape(userinfo.slice(colon + 1), 'userPassword');
  return { user: {}, host };
}

/** Go's url.Parse; throws with Go's wording (without its "parse <url>:" prefix). */
export function parseGoUrl(rawUrl: string): GoUrl {
  const hash = rawUrl.indexOf('#');
  const beforeFragment = hash < 0 ? rawUrl : rawUrl.slice(0, hash);
  if (/[\x00-\x1f\x7f]/.test(beforeFragment)) throw new Error('net/url: invalid control character in URL');
  const url = {
    Scheme: '', Opaque: '', User: null as GoUrl['User'], Host: '', Path: '', RawPath: '',
    OmitHost: false, ForceQuery: false, RawQuery: '', Fragment: '', RawFragment: '',
  };
  if (hash >= 0 && rawUrl.slice(hash + 1) !== '') [url.Fragment, url.RawFragment] = decoded(rawUrl.slice(hash + 1), 'fragment');
  if (beforeFragment === '*') return { ...url, Path: '*' };
  let [scheme, rest] = getScheme(beforeFragment);
  url.Scheme = scheme.toLowerCase();
  if (rest.endsWith('?') && rest.indexOf('?') === rest.length - 1) {
    url.ForceQuery = true;
    rest = rest.slice(0, -1);
  } else {
    const q = rest.indexOf('?');
    if (q >= 0) {
      url.RawQuery = rest.slice(q + 1);
      rest = rest.slice(0, q);
    }
  }
  if (!rest.startsWith('/')) {
    if (url.Scheme !== '') return { ...url, Opaque: rest };
    if (rest.split('/')[0]!.includes(':')) throw new Error('first path segment in URL cannot contain colon');
  }
  if ((url.Scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
    let authority = rest.slice(2);
    rest = '';
    const slash = authority.indexOf('/');
    if (slash >= 0) {
      rest = authority.slice(slash);
      authority = authority.slice(0, slash);
    }
    const { user, host } = parseAuthority(authority);
    url.User = user;
    url.Host = host;
  } else if (url.Scheme !== '' && rest.startsWith('/')) {
    url.OmitHost = true;
  }
  [url.Path, url.RawPath] = decoded(rest, 'path');
  return url;
}
