/**
 * Maps a Rego query to the wasm entrypoint that answers it: `data.a.b` → `a/b`. opa-wasm can only
 * evaluate compiled entrypoints, so a query must be a plain reference to a rule under `data`
 * (dotted names, or ["quoted"] segments for names that are not identifiers).
 */
export function entrypointOf(query: string): string {
  const segments: string[] = [];
  const re = /\.([A-Za-z_][A-Za-z0-9_]*)|\[("(?:[^"\\]|\\.)*")\]/y;
  if (!query.startsWith('data')) throw new QueryError(query);
  re.lastIndex = 4;
  while (re.lastIndex < query.length) {
    const m = re.exec(query);
    if (m === null) throw new QueryError(query);
    segments.push(m[1] ?? (JSON.parse(m[2]!) as string));
  }
  if (segments.length === 0) throw new QueryError(query);
  return segments.join('/');
}

export class QueryError extends Error {
  override name = 'QueryError';
  constructor(query: string) {
    super(`query "${query}" is not a reference to a rule under data (write it as data.<package>.<rule>, e.g. data.policy.allow): wasm bundles answer only such entrypoints`);
  }
}
