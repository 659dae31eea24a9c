import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProxyUrl } from '../../src/net/proxy-url.ts';

describe('--proxy URLs', () => {
  it('takes host and port as written, and each scheme its default port', () => {
    assert.deepEqual(parseProxyUrl('http://proxy.example:3128'), { kind: 'http', host: 'proxy.example', port: 3128, text: 'http://proxy.example:3128' });
    assert.equal(parseProxyUrl('http://proxy.example').port, 8080);
    assert.equal(parseProxyUrl('http://proxy.example:80').port, 80);
    assert.equal(parseProxyUrl('http://proxy.example:80/').port, 80);
    assert.equal(parseProxyUrl('socks5://10.0.0.1').port, 1080);
    assert.equal(parseProxyUrl('socks5h://[::1]:9050').host, '::1');
  });

  it('sends no authentication to an HTTP proxy, and decoded user and password to a SOCKS5 one', () => {
    assert.deepEqual(parseProxyUrl('http://u:p@proxy:3128'), { kind: 'http', host: 'proxy', port: 3128, text: 'http://proxy:3128' });
    const socks = parseProxyUrl('socks5://al%40ice:p%3Ass@proxy:1080');
    assert.deepEqual(socks.kind === 'socks5' && socks.auth, { userId: 'al@ice', password: 'p:ss' });
    assert.equal(socks.text, 'socks5://proxy:1080');
    const anonymous = parseProxyUrl('socks5://proxy');
    assert.equal(anonymous.kind === 'socks5' && anonymous.auth, undefined);
  });

  it('refuses other schemes with Ghostunnel\'s message', () => {
    for (const url of ['https://proxy:443', 'ftp://proxy', 'socks4://proxy:1080']) {
      assert.throws(() => parseProxyUrl(url), { message: `proxy: unknown scheme: ${url.split(':')[0]} (use http://, socks5:// or socks5h://)` });
    }
  });
});
