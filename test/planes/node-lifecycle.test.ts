// Drain, limits, PROXY headers, readiness, reusePort replacements, systemd, syslog, upgrades and --workers again, on the node data plane (test/planes/rerun.ts).
import { it } from 'node:test';
import { RERUN_TIMEOUT_MS, onNodePlane } from './rerun.ts';

it('lifecycle suites pass on the node data plane', { timeout: RERUN_TIMEOUT_MS }, (t) =>
  onNodePlane(t, [
    'test/lifecycle/drain.test.ts',
    'test/lifecycle/limits.test.ts',
    'test/lifecycle/proxy-protocol.test.ts',
    'test/lifecycle/readiness.test.ts',
    'test/lifecycle/reuseport-netns.test.ts',
    'test/lifecycle/syslog.test.ts',
    'test/lifecycle/systemd.test.ts',
    'test/lifecycle/upgrade.test.ts',
    'test/lifecycle/upgrade-load.test.ts',
    'test/workers/workers.test.ts',
  ]));
