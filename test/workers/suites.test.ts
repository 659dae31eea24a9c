// --workers must not change what the reload, status, drain and service-manager tests see (socket
// activation, sd_notify, syslog, PROXY headers included): they run here again with
// GHOSTUNNEL_WORKERS=2, so every daemon they start serves on two event loops. (The pprof test
// is not among them: its handle counts are those of the main thread.)
import { it } from 'node:test';
import { linuxOnly } from '../helpers/platform.ts';
import { RERUN_TIMEOUT_MS, rerunWith } from '../helpers/rerun.ts';

const SUITES = [
  'test/server/reload.test.ts',
  'test/server/resumption.test.ts',
  'test/reload/reload-endpoint.test.ts',
  'test/config/hot-reload.test.ts',
  'test/opa/invalid-bundles.test.ts',
  'test/status/status-endpoint.test.ts',
  'test/status/status-reload.test.ts',
  'test/status/metrics.test.ts',
  'test/status/shutdown.test.ts',
  'test/lifecycle/drain.test.ts',
  'test/lifecycle/limits.test.ts',
  'test/lifecycle/upgrade.test.ts',
  'test/lifecycle/systemd.test.ts',
  'test/lifecycle/syslog.test.ts',
  'test/lifecycle/proxy-protocol.test.ts',
];

it('the reload, status, drain and systemd suites pass with --workers 2', { skip: linuxOnly('--workers shares the listening descriptor'), timeout: RERUN_TIMEOUT_MS }, (t) =>
  rerunWith(t, SUITES, { GHOSTUNNEL_WORKERS: '2' }, 50));
