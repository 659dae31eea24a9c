// Server mode, access control, key exchange and hostile clients again, on the node data plane (test/planes/rerun.ts).
import { it } from 'node:test';
import { RERUN_TIMEOUT_MS, onNodePlane } from './rerun.ts';

it('server mode suites pass on the node data plane', { timeout: RERUN_TIMEOUT_MS }, (t) =>
  onNodePlane(t, [
    'test/server/access-control.test.ts',
    'test/server/basic.test.ts',
    'test/server/handshake-refusal.test.ts',
    'test/server/integrity.test.ts',
    'test/server/reload.test.ts',
    'test/server/resumption.test.ts',
    'test/auth/chain-validity.test.ts',
    'test/auth/spki-pin.test.ts',
    'test/credentials/key-exchange.test.ts',
    'test/hardening/hostile-clients.test.ts',
    'test/hardening/sandbox.test.ts',
    'test/hardening/secrets.test.ts',
  ]));
