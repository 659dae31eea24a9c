import type { IncomingMessage, ServerResponse } from 'node:http';

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

/** One entry of the status port's route table. */
export interface Route {
  /** The exact path, or with `below` every path under it ("/debug/pprof/" and what follows). */
  readonly path: string;
  readonly below?: boolean;
  /** The methods served; any when absent (Ghostunnel's read routes answer every method). */
  readonly methods?: readonly string[];
  readonly handle: Handler;
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', ...headers });
  res.end(text);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

function find(routes: readonly Route[], path: string): Route | undefined {
  return routes.find((r) => r.path === path) ?? routes.find((r) => r.below === true && path.startsWith(r.path));
}

/** Finds the route for a request: 404 when none, 405 (with Allow) when the method is not served. */
export async function dispatch(routes: readonly Route[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://status.invalid');
  const route = find(routes, url.pathname);
  if (route === undefined) return sendText(res, 404, '404 page not found\n');
  if (route.methods !== undefined && !route.methods.includes(req.method ?? 'GET')) {
    return sendText(res, 405, 'method not allowed\n', { allow: route.methods.join(', ') });
  }
  try {
    await route.handle(req, res, url);
  } catch (err) {
    if (!res.headersSent) sendText(res, 500, `${(err as Error).message}\n`);
    else res.destroy(err as Error);
  }
}
