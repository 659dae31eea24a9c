import type { ServerResponse } from 'node:http';
import type { BackendCheck } from './backend-check.ts';
import type { MetricsView } from './metrics-view.ts';
import { sendJson, sendText, type Route } from './router.ts';
import { statusReport, type StatusSource } from './status-report.ts';

export interface StatusRouteDeps {
  readonly source: StatusSource;
  readonly check: BackendCheck;
  readonly metrics: MetricsView;
  /** Set with --enable-shutdown: starts the graceful drain. */
  readonly shutdown?: () => void;
}

async function sendMetrics(res: ServerResponse, metrics: MetricsView, format: string): Promise<void> {
  if (format === 'json') return sendJson(res, 200, metrics.json());
  if (format === 'prometheus') {
    const { contentType, text } = await metrics.prometheus();
    res.writeHead(200, { 'content-type': contentType });
    res.end(text);
    return;
  }
  sendText(res, 400, `unsupported metrics format "${format}": use json or prometheus\n`);
}

/** Ghostunnel's routes (spec §2.12): /_status, the /_metrics family, and POST /_shutdown. */
export function statusRoutes(deps: StatusRouteDeps): Route[] {
  const routes: Route[] = [
    {
      path: '/_status',
      handle: async (_req, res) => {
        const report = await statusReport(deps.source, deps.check);
        sendJson(res, report.ok ? 200 : 503, report);
      },
    },
    { path: '/_metrics', handle: (_req, res, url) => sendMetrics(res, deps.metrics, url.searchParams.get('format') || 'json') },
    { path: '/_metrics/json', handle: (_req, res) => sendMetrics(res, deps.metrics, 'json') },
    { path: '/_metrics/prometheus', handle: (_req, res) => sendMetrics(res, deps.metrics, 'prometheus') },
  ];
  const { shutdown } = deps;
  if (shutdown) {
    routes.push({
      path: '/_shutdown',
      methods: ['POST'],
      // Answer first: the drain may end the process as soon as the last connection is gone.
      handle: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('shutting down\n', shutdown);
      },
    });
  }
  return routes;
}
