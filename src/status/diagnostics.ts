import { Session } from 'node:inspector/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { sendJson, sendText, type Route } from './router.ts';

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

/** The libuv handles and requests keeping the process busy, by type (TCPSocketWrap, Timeout, …). */
function activeResources(): Record<string, number> {
  const byType: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) byType[type] = (byType[type] ?? 0) + 1;
  return byType;
}

/**
 * --enable-pprof: Node.js diagnostics in place of Go's pprof. profile (CPU, ?seconds=N) and heap
 * (sampled allocations) open in Chrome DevTools; goroutine has no Node equivalent, so it reports
 * what stands for it here: the tunnel's open connections and the event loop's active resources.
 */
export function diagnosticRoutes(openConnections: () => number): Route[] {
  const base = '/debug/pprof/';
  const heapProfile = heapSampler();
  return [
    {
      path: base,
      handle: (_req, res) =>
        sendText(
          res,
          200,
          `Node.js diagnostics (--enable-pprof)\n\n${base}profile?seconds=N  CPU profile over N seconds (default ${DEFAULT_PROFILE_SECONDS}), .cpuprofile JSON\n${base}heap                live allocations sampled since start (like Go's heap profile), .heapprofile JSON\n${base}goroutine           open connections and active event-loop resources, JSON\n`,
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
      handle: (_req, res) => {
        const resources = activeResources();
        sendJson(res, 200, {
          open_connections: openConnections(),
          active_resources: Object.values(resources).reduce((a, b) => a + b, 0),
          active_resources_by_type: resources,
        });
      },
    },
  ];
}
