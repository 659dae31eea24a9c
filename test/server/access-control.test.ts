import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { sClient } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';

const ca = makeCa('acl-ca');
const otherCa = makeCa('other-ca');
const server = issue(ca, 'server', { cn: 'localhost' });
const certs = {
  alice: issue(ca, 'alice', { cn: 'alice', ou: ['eng', 'ops'], dns: ['alice.example'], ips: ['10.1.2.3', '2001:db8::7'], uris: ['spiffe://corp/ns/prod/sa/alice'] }),
  bob: issue(ca, 'bob', { cn: 'bob', ou: 'sales', dns: ['bob.example'], ips: ['10.9.9.9'], uris: ['spiffe://corp/ns/dev/sa/bob/extra'] }),
  mallory: issue(otherCa, 'mallory', { cn: 'alice', ou: 'eng', dns: ['alice.example'] }),
};

interface Tunnel {
  gt: Daemon;
  port: number;
  backend: Backend;
}

async function start(flags: string[]): Promise<Tunnel> {
  const backend = await echoBackend();
  const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, ...flags]);
  try {
    const { port } = await gt.address();
    return { gt, port, backend };
  } catch (err) {
    await backend.close();
    throw err;
  }
}

async function stop(t: Tunnel): Promise<void> {
  assert.equal(await t.gt.stop(), 0);
  await t.backend.close();
}

/** Sends a line through the tunnel as `who`; true if it came back from the echo backend. */
async function reaches(t: Tunnel, who: Issued | undefined, extra: string[] = []): Promise<boolean> {
  const before = t.backend.accepted();
  const creds = who ? ['-cert', who.cert, '-key', who.key] : [];
  const r = await sClient(t.port, [...creds, '-CAfile', ca.cert, '-quiet', ...extra], 'knock-knock\n', { until: /knock-knock/, timeoutMs: 5000 });
  const through = r.stdout.includes('knock-knock');
  assert.equal(t.backend.accepted() - before, through ? 1 : 0, 'the backend sees a connection exactly when bytes came through');
  return through;
}

describe('access control flags (one tunnel per rule set)', () => {
  const cases: Array<{ name: string; flags: string[]; allowed: Array<keyof typeof certs>; denied: Array<keyof typeof certs> }> = [
    { name: '--allow-cn', flags: ['--allow-cn', 'alice'], allowed: ['alice'], denied: ['bob', 'mallory'] },
    { name: '--allow-ou', flags: ['--allow-ou', 'ops'], allowed: ['alice'], denied: ['bob', 'mallory'] },
    { name: '--allow-dns', flags: ['--allow-dns', 'bob.example'], allowed: ['bob'], denied: ['alice', 'mallory'] },
    { name: '--allow-dns-san (alias)', flags: ['--allow-dns-san', 'alice.example'], allowed: ['alice'], denied: ['bob', 'mallory'] },
    { name: '--allow-ip (IPv4)', flags: ['--allow-ip', '10.9.9.9'], allowed: ['bob'], denied: ['alice'] },
    { name: '--allow-ip (IPv6, other spelling)', flags: ['--allow-ip', '2001:0db8:0:0:0:0:0:7'], allowed: ['alice'], denied: ['bob'] },
    { name: '--allow-uri exact', flags: ['--allow-uri', 'spiffe://corp/ns/prod/sa/alice'], allowed: ['alice'], denied: ['bob'] },
    { name: '--allow-uri with *', flags: ['--allow-uri', 'spiffe://corp/ns/*/sa/alice'], allowed: ['alice'], denied: ['bob'] },
    { name: '--allow-uri * is one segment only', flags: ['--allow-uri', 'spiffe://corp/ns/*/sa/bob'], allowed: [], denied: ['bob', 'alice'] },
    { name: '--allow-uri with trailing **', flags: ['--allow-uri', 'spiffe://corp/ns/dev/**'], allowed: ['bob'], denied: ['alice'] },
    { name: 'OR of several flags', flags: ['--allow-cn', 'nobody', '--allow-ou', 'sales', '--allow-uri', 'spiffe://corp/ns/prod/**'], allowed: ['alice', 'bob'], denied: ['mallory'] },
    { name: '--allow-all', flags: ['--allow-all'], allowed: ['alice', 'bob'], denied: ['mallory'] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const t = await start(c.flags);
      try {
        for (const who of c.allowed) assert.equal(await reaches(t, certs[who]), true, `${who} should be allowed`);
        for (const who of c.denied) assert.equal(await reaches(t, certs[who]), false, `${who} should be denied`);
        if (c.denied.length) await t.gt.waitForLog(/error on TLS handshake from tcp:127\.0\.0\.1:\d+: (unauthorized|certificate verification failed)/);
      } finally {
        await stop(t);
      }
    });
  }
});

describe('clients that fail the handshake', () => {
  let t: Tunnel;
  before(async () => (t = await start(['--allow-cn', 'alice'])));
  after(() => stop(t));

  it('refuses a client without a certificate with a TLS alert', async () => {
    const r = await sClient(t.port, ['-CAfile', ca.cert], 'x\n');
    assert.match(r.stdout + r.stderr, /alert certificate required|alert handshake failure/);
    assert.equal(t.backend.accepted(), 0);
    await t.gt.waitForLog(/peer did not return a certificate/);
  });

  it('refuses a certificate from an untrusted CA, and logs the verification error', async () => {
    assert.equal(await reaches(t, certs.mallory), false);
    await t.gt.waitForLog(/certificate verification failed: (UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/);
  });

  it('refuses a trusted certificate the flags do not allow, over TLS 1.2 too', async () => {
    assert.equal(await reaches(t, certs.bob, ['-tls1_2']), false);
    assert.equal(await reaches(t, certs.alice, ['-tls1_2']), true);
    const denial = await t.gt.waitForLog(/unauthorized: invalid principal, or principal not allowed/);
    assert.equal(denial.level, 'warn');
  });

  it('closes a connection that sends garbage and keeps serving others', async () => {
    const { connect } = await import('node:net');
    const junk = connect(t.port, '127.0.0.1');
    junk.end(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    junk.resume();
    await new Promise((r) => junk.once('close', r));
    assert.equal(await reaches(t, certs.alice), true);
  });
});

describe('--disable-authentication', () => {
  it('does not ask for a client certificate', async () => {
    const t = await start(['--disable-authentication']);
    try {
      assert.equal(await reaches(t, undefined), true);
      const r = await sClient(t.port, ['-CAfile', ca.cert, '-brief'], '', { until: /CONNECTION ESTABLISHED/, timeoutMs: 5000 });
      assert.match(r.stderr, /CONNECTION ESTABLISHED/);
      assert.doesNotMatch(r.stdout + r.stderr, /Acceptable client certificate CA names/);
    } finally {
      await stop(t);
    }
  });
});

describe('clients that leave during the handshake', () => {
  it('frees a connection that half-closes before its ClientHello at once, not at --connect-timeout', async () => {
    const t = await start(['--allow-cn', 'alice', '--connect-timeout', '60s']);
    try {
      const { connect } = await import('node:net');
      const quitter = connect(t.port, '127.0.0.1', () => quitter.end());
      quitter.resume();
      await t.gt.waitForLog(/client closed the connection during the handshake/);
      assert.equal(await reaches(t, certs.alice), true);
    } finally {
      await stop(t);
    }
  });
});
