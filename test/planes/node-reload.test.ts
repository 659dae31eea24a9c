// Reloads, status and metrics, OPA and the quickstart again, on the node data plane (test/planes/rerun.ts).
import { it } from 'node:test';
import { RERUN_TIMEOUT_MS, onNodePlane } from './rerun.ts';

it('reload, status and policy suites pass on the node data plane', { timeout: RERUN_TIMEOUT_MS }, (t) =>
  onNodePlane(t, [
    'test/reload/auto-reload.test.ts',
    'test/reload/half-rotation.test.ts',
    'test/reload/poll.test.ts',
    'test/reload/policy-reload.test.ts',
    'test/reload/reload-endpoint.test.ts',
    'test/reload/reloader.test.ts',
    'test/reload/rotation-under-load.test.ts',
    'test/config/hot-reload.test.ts',
    'test/status/metrics.test.ts',
    'test/status/metrics-push.test.ts',
    'test/status/pprof.test.ts',
    'test/status/shutdown.test.ts',
    'test/status/status-endpoint.test.ts',
    'test/status/status-reload.test.ts',
    'test/opa/handshake-decisions.test.ts',
    'test/opa/invalid-bundles.test.ts',
    'test/opa/latency.test.ts',
    'test/quickstart/quickstart.test.ts',
  ]));
