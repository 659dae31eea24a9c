// OpaPolicy, its evaluator pool and the pieces around it, in-process: decisions for every fixture
// bundle, deadlines and thread replacement, reload, the query mapping and the OR-combinator.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createRequire } from 'node:module';
import type { AccessPolicy } from '../../src/auth/access-policy.ts';
import { anyOf } from '../../src/auth/any-of.ts';
import { EvaluatorPool } from '../../src/auth/opa/evaluator-pool.ts';
import { compileWasm, type PolicyImage } from '../../src/auth/opa/compiled-policy.ts';
import { OpaPolicy } from '../../src/auth/opa/opa-policy.ts';
import { entrypointOf } from '../../src/auth/opa/query.ts';
import { readPolicyBundle, type PolicyBundle } from '../../src/auth/opa/bundle.ts';
import { peerIdentity, type PeerIdentity } from '../../src/auth/peer.ts';
import type { PolicySource } from '../../src/config/types.ts';
import type { Log } from '../../src/log/logger.ts';
import { tempDir } from '../helpers/pki.ts';
import { bundle, cert, decisionCases, OPA_DIR, PEERS, type Peer } from './fixtures.ts';

function peer(name: Peer): PeerIdentity {
  const x509 = new X509Certificate(readFileSync(cert(name)));
  return peerIdentity(x509.toLegacyObject(), x509);
}

function memoryLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  const add = (msg: string): void => void lines.push(msg);
  return { lines, info: add, warn: add, error: add, conn: add, connError: add, handshakeError: add, flush: () => {} };
}

const source = (path: string, query = 'data.policy.allow'): PolicySource => ({ bundle: path, query, flag: '--allow-policy' });
const opened: OpaPolicy[] = [];
async function load(path: string, query?: string, timeoutMs = 5000, log = memoryLog()): Promise<OpaPolicy> {
  const p = await OpaPolicy.load(source(path, query), { timeoutMs, log });
  opened.push(p);
  return p;
}
after(() => Promise.all(opened.map((p) => p.close())));

describe('OpaPolicy decisions (expected.json)', () => {
  for (const c of decisionCases()) {
    it(c.name, async () => {
      const policy = await load(c.bundle, c.query);
      const got = Object.fromEntries(await Promise.all(PEERS.map(async (p) => [p, await policy.allows(peer(p))])));
      assert.deepEqual(got, c.allowed);
    });
  }

  it('the precision hazard is real: a parsed (float) input would admit client1-revoked', async () => {
    // Regression guard for the input path: opa-wasm given a JS object rounds the serial number.
    const { loadPolicy } = createRequire(import.meta.url)('@open-policy-agent/opa-wasm') as typeof import('@open-policy-agent/opa-wasm');
    const b = (await readPolicyBundle(bundle('identity.tar.gz'), 'ghostunnel/acl/allow')) as PolicyBundle;
    const wasm = await loadPolicy(new Uint8Array(b.wasm).buffer);
    wasm.setData(new Uint8Array(b.data!).buffer);
    const parsed: unknown = JSON.parse(readFileSync(`${OPA_DIR}inputs/client1-revoked.json`, 'utf8'));
    assert.deepEqual(wasm.evaluate(parsed, 'ghostunnel/acl/allow'), [{ result: true }]);
    assert.equal(await (await load(bundle('identity.tar.gz'), 'data.ghostunnel.acl.allow')).allows(peer('client1-revoked')), false);
  });
});

describe('evaluation deadline', () => {
  it('denies a slow policy at the deadline and replaces the thread, which then serves a reloaded policy', async () => {
    const dir = tempDir('gt-opa-');
    const path = join(dir, 'policy.tar.gz');
    copyFileSync(bundle('slow.tar.gz'), path);
    const log = memoryLog();
    const policy = await load(path, undefined, 1500, log);
    const verdicts = await Promise.allSettled([policy.allows(peer('client1')), policy.allows(peer('client1')), policy.allows(peer('client1'))]);
    for (const v of verdicts) assert.match(String((v as PromiseRejectedResult).reason), /did not finish within 1500 ms/);
    copyFileSync(bundle('allow-client1.tar.gz'), path);
    await policy.reload();
    assert.equal(await policy.allows(peer('client1')), true);
    assert.equal(await policy.allows(peer('client2')), false);
    assert.ok(log.lines.some((l) => l.startsWith('loaded OPA policy')));
  });

  it('a pool of one: requests queued behind a runaway one keep their own deadline, and the thread is replaced', async () => {
    const image = async (name: string): Promise<PolicyImage> => {
      const b = (await readPolicyBundle(bundle(name), 'policy/allow')) as PolicyBundle;
      return { module: await compileWasm(b.wasm), data: b.data && new Uint8Array(b.data).buffer, entrypoint: 'policy/allow' };
    };
    let overruns = 0;
    const pool = new EvaluatorPool(await image('slow.tar.gz'), { timeoutMs: 1500, size: 1, onPrint: () => {}, onOverrun: () => overruns++ });
    try {
      const der = new X509Certificate(readFileSync(cert('client1'))).raw;
      const results = await Promise.allSettled([pool.evaluate(der), pool.evaluate(der), pool.evaluate(der)]);
      for (const r of results) assert.match(String((r as PromiseRejectedResult).reason), /did not finish within 1500 ms/);
      assert.ok(overruns >= 1);
      pool.publish(await image('allow-client1.tar.gz'));
      assert.equal(await pool.evaluate(der), true);
    } finally {
      await pool.close();
    }
  });
});

describe('evaluation errors', () => {
  it('deny with the reason, and the next evaluation starts afresh', async () => {
    const b = (await readPolicyBundle(bundle('allow-all.tar.gz'), 'policy/allow')) as PolicyBundle;
    const pool = new EvaluatorPool({ module: await compileWasm(b.wasm), data: undefined, entrypoint: 'policy/allow' }, { timeoutMs: 10_000, size: 1, onPrint: () => {}, onOverrun: () => {} });
    try {
      await assert.rejects(pool.evaluate(Buffer.from('not a certificate')), /cannot build the OPA input from the peer certificate: element runs past its container/);
      assert.equal(await pool.evaluate(new X509Certificate(readFileSync(cert('nobody'))).raw), true);
    } finally {
      await pool.close();
    }
  });
});

describe('reload', () => {
  it('keeps the current policy when the new bundle is broken, and logs why', async () => {
    const dir = tempDir('gt-opa-');
    const path = join(dir, 'policy.tar.gz');
    copyFileSync(bundle('allow-client1.tar.gz'), path);
    const log = memoryLog();
    const policy = await load(path, undefined, 5000, log);
    // rego-only.tar.gz is broken only where no `opa` can compile it.
    const savedPath = process.env.PATH;
    process.env.PATH = tempDir('gt-empty-path-');
    try {
      for (const broken of ['empty', 'not-gzip', 'truncated', 'bad-wasm', 'rego-only']) {
        copyFileSync(`${OPA_DIR}invalid/${broken}.tar.gz`, path);
        const before = log.lines.length;
        await policy.reload();
        const errors = log.lines.slice(before).filter((l) => l.startsWith('error reloading OPA policy: '));
        assert.equal(errors.length, 1, `${broken}: ${log.lines.slice(before).join(' | ')}`);
        assert.ok(errors[0]!.includes(path));
        assert.equal(await policy.allows(peer('client1')), true, broken);
        assert.equal(await policy.allows(peer('client2')), false, broken);
      }
    } finally {
      process.env.PATH = savedPath;
    }
    copyFileSync(bundle('allow-all.tar.gz'), path);
    await policy.reload();
    assert.equal(await policy.allows(peer('client2')), true);
  });

  it('does nothing when the bundle is unchanged', async () => {
    const log = memoryLog();
    const policy = await load(bundle('deny-all.tar.gz'), undefined, 5000, log);
    const before = log.lines.length;
    await Promise.all([policy.reload(), policy.reload()]);
    assert.deepEqual(log.lines.slice(before), []);
  });
});

describe('loading', () => {
  it('reads a bundle directory', async () => {
    const dir = tempDir('gt-opa-dir-');
    const b = (await readPolicyBundle(bundle('identity.tar.gz'), 'ghostunnel/acl/allow')) as PolicyBundle;
    writeFileSync(join(dir, 'policy.wasm'), b.wasm);
    writeFileSync(join(dir, 'data.json'), b.data!);
    const policy = await load(dir, 'data.ghostunnel.acl.allow');
    assert.equal(await policy.allows(peer('ops-alice')), true);
    assert.equal(await policy.allows(peer('client1-revoked')), false);
  });

  it('Rego source without an opa binary: says how to build a wasm bundle', async () => {
    const saved = process.env.PATH;
    process.env.PATH = tempDir('gt-empty-path-');
    try {
      await assert.rejects(load(`${OPA_DIR}invalid/rego-only.tar.gz`), /no "opa" binary is on PATH.*opa build -t wasm -e policy\/allow -o bundle\.tar\.gz -b .*rego-only\.tar\.gz/);
      await assert.rejects(load(`${OPA_DIR}src/allow-client1/allow_client1.rego`), /is Rego source, and no "opa" binary is on PATH.*opa build -t wasm -e policy\/allow -o bundle\.tar\.gz --v0-compatible .*allow_client1\.rego/);
    } finally {
      process.env.PATH = saved;
    }
  });

  it('Rego source with an opa binary on PATH: compiles it with `opa build -t wasm -e ENTRYPOINT`', async () => {
    const bin = tempDir('gt-fake-opa-');
    const argsFile = join(bin, 'args');
    // Stands in for the real CLI: records its arguments and writes a wasm bundle to -o.
    writeFileSync(join(bin, 'opa'), `#!/bin/sh\necho "$@" > ${argsFile}\nwhile [ "$1" != "-o" ]; do shift; done\ncp ${bundle('allow-client1.tar.gz')} "$2"\n`);
    chmodSync(join(bin, 'opa'), 0o755);
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved}`;
    try {
      const rego = `${OPA_DIR}src/allow-client1/allow_client1.rego`;
      const policy = await load(rego);
      assert.match(readFileSync(argsFile, 'utf8'), new RegExp(`^build -t wasm -e policy/allow -o \\S+/bundle\\.tar\\.gz --v0-compatible ${rego}\\n$`));
      assert.equal(await policy.allows(peer('client1')), true);
      assert.equal(await policy.allows(peer('client2')), false);
      await load(`${OPA_DIR}invalid/rego-only.tar.gz`);
      assert.match(readFileSync(argsFile, 'utf8'), / -b \S+rego-only\.tar\.gz\n$/);
    } finally {
      process.env.PATH = saved;
    }
  });

  it('refuses a missing file, broken bundles and an unknown entrypoint, naming the flag and file', async () => {
    await assert.rejects(load('/nonexistent/policy.tar.gz'), /^Error: --allow-policy \/nonexistent\/policy\.tar\.gz: ENOENT/);
    await assert.rejects(load(`${OPA_DIR}invalid/empty.tar.gz`), /empty \(0 bytes\)/);
    await assert.rejects(load(`${OPA_DIR}invalid/not-gzip.tar.gz`), /not a gzip-compressed tar bundle: incorrect header check/);
    await assert.rejects(load(`${OPA_DIR}invalid/truncated.tar.gz`), /unexpected end of file/);
    await assert.rejects(load(`${OPA_DIR}invalid/bad-wasm.tar.gz`), /policy\.wasm is not valid WebAssembly/);
    await assert.rejects(load(bundle('allow-all.tar.gz'), 'data.policy.nope'), /no entrypoint "policy\/nope" \(it has: policy\/allow\)/);
    await assert.rejects(load(bundle('allow-all.tar.gz'), 'xxx@invalid'), /query "xxx@invalid" is not a reference to a rule under data/);
  });
});

describe('query → entrypoint', () => {
  it('maps data references', () => {
    assert.equal(entrypointOf('data.policy.allow'), 'policy/allow');
    assert.equal(entrypointOf('data.ghostunnel.acl.allow'), 'ghostunnel/acl/allow');
    assert.equal(entrypointOf('data.x["with-dash"]'), 'x/with-dash');
  });
  it('refuses anything else', () => {
    for (const q of ['xxx@invalid', 'data', 'data.', 'input.x', 'data.a.b == true', 'data.a[0]', 'datax.y']) assert.throws(() => entrypointOf(q), /not a reference/, q);
  });
});

describe('anyOf', () => {
  const calls: string[] = [];
  const fixed = (name: string, verdict: boolean | 'async-true' | 'async-false' | 'reject'): AccessPolicy => ({
    allows: () => {
      calls.push(name);
      if (verdict === 'reject') return Promise.reject(new Error('boom'));
      return typeof verdict === 'boolean' ? verdict : Promise.resolve(verdict === 'async-true');
    },
  });
  const p = peer('client1');
  it('answers synchronously while the policies do, and stops at the first yes', async () => {
    calls.length = 0;
    assert.equal(anyOf([fixed('a', true), fixed('b', 'reject')]).allows(p), true);
    assert.deepEqual(calls, ['a']);
    assert.equal(anyOf([fixed('a', false), fixed('b', false)]).allows(p), false);
    assert.equal(await anyOf([fixed('a', false), fixed('b', 'async-false'), fixed('c', true)]).allows(p), true);
    assert.equal(await anyOf([fixed('a', false), fixed('b', 'async-false')]).allows(p), false);
    await assert.rejects(Promise.resolve(anyOf([fixed('a', false), fixed('b', 'reject')]).allows(p)), /boom/);
  });
});
