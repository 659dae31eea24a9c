// Client mode, certificate sources (keystores, PKCS#11, SPIFFE, ACME) again, on the node data plane (test/planes/rerun.ts).
import { it } from 'node:test';
import { RERUN_TIMEOUT_MS, onNodePlane } from './rerun.ts';

it('client mode and certificate source suites pass on the node data plane', { timeout: RERUN_TIMEOUT_MS }, (t) =>
  onNodePlane(t, [
    'test/client/handshake-refusal.test.ts',
    'test/client/proxy.test.ts',
    'test/client/reload.test.ts',
    'test/client/round-trip.test.ts',
    'test/client/verification.test.ts',
    'test/credentials/keystores.test.ts',
    'test/credentials/pkcs11.test.ts',
    'test/spiffe/client.test.ts',
    'test/spiffe/server.test.ts',
    'test/acme/pebble.test.ts',
    'test/acme/alt-port.test.ts',
    'test/acme/storage.test.ts',
  ]));
