import type { PeerIdentity } from '../auth/peer.ts';

/** A piping connection whose peer presented a certificate: what re-authorization looks at. */
export interface OpenConnection {
  /** The peer's identity, as checked when the connection was admitted. */
  readonly peer: PeerIdentity;
  /** The accepted side's address, for log lines. */
  readonly from: string;
  /** Ends both sides at once; the pipe then logs "closed pipe" as for any other end. */
  close(): void;
}

/**
 * The open connections with a peer certificate, so that new access rules can be checked against
 * them (--reauthorize-open-connections). Registering is a Set insertion per connection.
 */
export class OpenConnections {
  readonly #open = new Set<OpenConnection>();

  /** Registers a connection; returns the function that forgets it once it closed. */
  add(connection: OpenConnection): () => void {
    this.#open.add(connection);
    return () => this.#open.delete(connection);
  }

  get size(): number {
    return this.#open.size;
  }

  /** A copy: closing connections while going through it is safe. */
  list(): OpenConnection[] {
    return [...this.#open];
  }
}
