// The OPA fixtures (test/fixtures/opa, see its README): bundles, the test PKI, the input documents
// Ghostunnel builds, and the decision table every test here reproduces.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const OPA_DIR = fileURLToPath(new URL('../fixtures/opa/', import.meta.url));

export const PEERS = ['client1', 'client2', 'server1', 'server2', 'spiffe-web', 'ops-alice', 'ip-only', 'nobody', 'client1-revoked'] as const;
export type Peer = (typeof PEERS)[number];

export const cert = (peer: Peer | 'root'): string => `${OPA_DIR}certs/${peer}.crt`;
export const key = (peer: Peer | 'root'): string => `${OPA_DIR}certs/${peer}.key`;
export const bundle = (name: string): string => `${OPA_DIR}${name}`;
export const ROOT = cert('root');

/** A name each peer's certificate holds, for client mode's hostname verification. */
export const SERVER_NAME: Record<Peer, string> = {
  client1: 'localhost',
  client2: 'localhost',
  server1: 'localhost',
  server2: 'localhost',
  'spiffe-web': 'web.prod.svc',
  'ops-alice': 'alice-laptop.corp.example.org',
  'ip-only': '10.1.2.3',
  nobody: 'nobody.example.net',
  'client1-revoked': 'localhost',
};

interface QueryExpectation {
  entrypoint: string;
  decisions?: Record<Peer, { allowed: boolean }>;
  decisions_with_custom_builtins?: Record<Peer, { allowed: boolean }>;
  decisions_if_run_to_completion?: Record<Peer, { allowed: boolean }>;
}
interface Expected {
  bundles: Record<string, { bundle: string; queries: Record<string, QueryExpectation> }>;
  invalid: Record<string, string>;
}
export const EXPECTED = JSON.parse(readFileSync(`${OPA_DIR}expected.json`, 'utf8')) as Expected;

/** One row of the decision table: a bundle, a query, and who it admits. */
export interface Case {
  readonly name: string;
  readonly bundle: string;
  readonly query: string;
  readonly allowed: Readonly<Record<Peer, boolean>>;
}

/**
 * Every bundle × query whose decisions can be reproduced through handshakes. The slow bundle has
 * its own test (every peer times out). unsupported-builtin: ghostunnel ships time.now_ns and
 * time.parse_rfc3339_ns as host built-ins, as Go's OPA has them, so its custom-builtin column applies.
 */
export function decisionCases(): Case[] {
  const cases: Case[] = [];
  for (const [name, b] of Object.entries(EXPECTED.bundles)) {
    if (name === 'slow') continue;
    for (const [query, q] of Object.entries(b.queries)) {
      const table = q.decisions ?? q.decisions_with_custom_builtins;
      if (table === undefined) throw new Error(`expected.json: no decisions for ${name} ${query}`);
      const allowed = Object.fromEntries(PEERS.map((p) => [p, table[p].allowed])) as Record<Peer, boolean>;
      cases.push({ name: `${name} ${query}`, bundle: bundle(b.bundle), query, allowed });
    }
  }
  return cases;
}

/** Nearest-rank percentile of a sample, in its unit. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
