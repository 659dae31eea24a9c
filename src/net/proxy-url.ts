/**
 * A client-mode outbound proxy (--proxy, spec §2.17). HTTP proxies get no authentication (URL
 * user-info is ignored, as in Ghostunnel); SOCKS5 takes user and password from the URL.
 */
export type ProxyUrl =
  | { readonly kind: 'http'; readonly host: string; readonly port: number; readonly text: string }
  | {
      readonly kind: 'socks5';
      readonly host: string;
      readonly port: number;
      /** Username and password authentication (RFC 1929), when the URL has user-info. */
      readonly auth: { readonly userId: string; readonly password: string } | undefined;
      readonly text: string;
    };

const DEFAULT_PORT = { http: 8080, socks5: 1080 } as const;

/** True when the text parses as a URL at all (a parse-time check, before the scheme is looked at). */
export function isUrl(text: string): boolean {
  return URL.canParse(text);
}

/** The port as written: WHATWG URL drops ":80" from http URLs, which would turn into 8080 here. */
function explicitPort(url: URL, text: string): number | undefined {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'http:' && /^[^:]+:\/\/(?:[^@/?#]*@)?[^/?#]*:0*80(?:[/?#]|$)/.test(text) ? 80 : undefined;
}

/** Parses --proxy; throws "proxy: unknown scheme: X" (Ghostunnel's words) for anything but http/socks5/socks5h. */
export function parseProxyUrl(text: string): ProxyUrl {
  const url = new URL(text);
  const scheme = url.protocol.slice(0, -1);
  const kind = scheme === 'http' ? 'http' : scheme === 'socks5' || scheme === 'socks5h' ? 'socks5' : undefined;
  if (kind === undefined) throw new Error(`proxy: unknown scheme: ${scheme} (use http://, socks5:// or socks5h://)`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new Error(`proxy: missing host in "${text}"`);
  const port = explicitPort(url, text) ?? DEFAULT_PORT[kind];
  const shown = `${scheme}://${url.hostname}:${port}`;
  if (kind === 'http') return { kind, host, port, text: shown };
  const auth = url.username === '' && url.password === '' ? undefined : { userId: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  return { kind, host, port, auth, text: shown };
}
