import { Session } from 'node:inspector/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoopUnits } from '../runtime/units-of-work.ts';
import { goroutineProfile } from './goroutine-profile.ts';
import { sendText, type Route } from './router.ts';

/** Go's /debug/pprof/profile default. */
const DEFAULT_PROFILE_SECONDS = 30;
const MAX_PROFILE_SECONDS = 600;

let profiling = false;

/** A CPU profile of the whole process over `seconds`, in the .cpuprofile format DevTools opens. */
async function cpuProfile(seconds: number): Promise<unknown> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    await sleep(seconds * 1000);
    const { profile } = await session.post('Profiler.stop');
    return profile;
  } finally {
    session.disconnect();
  }
}

/** V8's default sampling interval: one sample per 32 KiB allocated on average, cheap enough to leave on. */
const HEAP_SAMPLING_INTERVAL = 32 * 1024;

/**
 * Go's heap profile, not a heap snapshot: allocation sites and the sizes still live, sampled from
 * the moment pprof is enabled. A snapshot would be a copy of the process memory, private keys and
 * passwords included; a sampling profile holds function names and sizes only.
 */
function heapSampler(): () => Promise<unknown> {
  const session = new Session();
  session.connect();
  const started = session.post('HeapProfiler.startSampling', { samplingInterval: HEAP_SAMPLING_INTERVAL });
  return async () => {
    await started;
    const { profile } = await session.post('HeapProfiler.getSamplingProfile');
    return profile;
  };
}

/** Go's ?debug=N: a value that is not a number counts as 0, as strconv.Atoi's error does there. */
function debugLevel(url: URL): number {
  const level = Number.parseInt(url.searchParams.get('debug') ?? '0', 10);
  return Number.isNaN(level) ? 0 : level;
}

/**
 * --enable-pprof: Node.js diagnostics in place of Go's pprof. profile (CPU, ?seconds=N) and heap
 * (sampled allocations) open in Chrome DevTools; goroutine has no Node equivalent, so it counts,
 * in Go's text format, what stands for goroutines here: every event loop's units of work.
 */
export function diagnosticRoutes(unitsOfWork: () => Promise<readonly LoopUnits[]>): Route[] {
  const base = '/debug/pprof/';
  const heapProfile = heapSampler();
  return [
    {
      path: base,
      handle: (_req, res) =>
        sendText(
          res,
          200,
          `Node.js diagnostics (--enable-pprof)\n\n${base}profile?seconds=N  CPU profile over N seconds (default ${DEFAULT_PROFILE_SECONDS}), .cpuprofile JSON\n${base}heap                live allocations sampled since start (like Go's heap profile), .heapprofile JSON\n${base}goroutine?debug=1   "goroutine profile: total N": connections (each side), handshakes and dials, event-loop handles and requests; debug=2 per event loop\n`,
        ),
    },
    {
      path: `${base}profile`,
      handle: async (_req, res, url) => {
        const raw = url.searchParams.get('seconds') ?? String(DEFAULT_PROFILE_SECONDS);
        const seconds = Number(raw);
        if (!/^\d+(\.\d+)?$/.test(raw) || seconds <= 0 || seconds > MAX_PROFILE_SECONDS) {
          return sendText(res, 400, `bad seconds "${raw}": want a number of seconds in (0, ${MAX_PROFILE_SECONDS}]\n`);
        }
        if (profiling) return sendText(res, 409, 'a CPU profile is already being taken\n');
        profiling = true;
        try {
          const profile = await cpuProfile(seconds);
          res.writeHead(200, { 'content-type': 'application/json', 'content-disposition': 'attachment; filename="profile.cpuprofile"' });
          res.end(JSON.stringify(profile));
        } finally {
          profiling = false;
        }
      },
    },
    {
      path: `${base}heap`,
      handle: async (_req, res) => {
        const profile = await heapProfile();
        res.writeHead(200, { 'content-type': 'application/json', 'content-disposition': 'attachment; filename="heap.heapprofile"' });
        res.end(JSON.stringify(profile));
      },
    },
    {
      path: `${base}goroutine`,
      handle: async (_req, res, url) => sendText(res, 200, goroutineProfile(await unitsOfWork(), debugLevel(url))),
    },
  ];
}
