import type { AccessPolicy } from '../auth/access-policy.ts';
import type { Log } from '../log/logger.ts';
import type { OpenConnection, OpenConnections } from '../tunnel/open-connections.ts';

/** What a re-authorization did: connections checked, and how many of them it closed. */
export interface Reauthorized {
  readonly checked: number;
  readonly closed: number;
}

/**
 * --reauthorize-open-connections: after the access rules changed, every open connection's peer is
 * checked against the new rules, and those that no longer pass are closed (each with a log line).
 * A policy error counts as a refusal, as it does for a new connection.
 */
export async function reauthorize(connections: OpenConnections, policy: AccessPolicy | undefined, log: Log): Promise<Reauthorized> {
  if (policy === undefined) return { checked: 0, closed: 0 };
  const open = connections.list();
  const verdicts = await Promise.all(open.map((c) => verdictOf(policy, c)));
  let closed = 0;
  open.forEach((connection, i) => {
    const verdict = verdicts[i]!;
    if (verdict === true) return;
    closed++;
    const why = verdict === false ? 'no longer allowed by the access rules' : `policy returned error: ${verdict.message}`;
    log.handshakeError(`closing connection from ${connection.from} [${connection.peer.subject}]: ${why} (--reauthorize-open-connections)`, { peer: connection.from, subject: connection.peer.subject });
    connection.close();
  });
  return { checked: open.length, closed };
}

/** The one summary line, for all event loops together. */
export function logReauthorized(log: Log, { checked, closed }: Reauthorized): void {
  log.info(`re-authorized ${checked} open connections against the new access rules: ${closed} closed`, { open: checked, closed });
}

async function verdictOf(policy: AccessPolicy, connection: OpenConnection): Promise<boolean | Error> {
  try {
    return await policy.allows(connection.peer);
  } catch (err) {
    return err as Error;
  }
}
