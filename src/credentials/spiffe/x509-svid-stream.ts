import { credentials, Metadata, type ClientReadableStream, type ServiceClientConstructor } from '@grpc/grpc-js';
import { SECURITY_HEADER, workloadApiClient, type X509SvidResponse } from './workload-api-proto.ts';

export interface X509SvidStreamHandlers {
  /** A message arrived: it replaces every SVID and bundle before it. */
  readonly update: (response: X509SvidResponse) => void;
  /** The stream could not be opened, or broke; it is opened again after `retryInMs`. */
  readonly error: (err: Error, retryInMs: number) => void;
}

type ServiceClient = InstanceType<ServiceClientConstructor>;
type FetchX509Svid = (request: object, metadata: Metadata) => ClientReadableStream<X509SvidResponse>;

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;

/** "unix:///path" stays (grpc-js reads it); "tcp://IP:PORT" becomes "IP:PORT". */
function grpcTarget(address: string): string {
  return address.startsWith('tcp://') ? address.slice('tcp://'.length) : address;
}

/**
 * The FetchX509SVID stream of a SPIFFE Workload API agent, kept open: when it breaks (agent
 * restarted, socket not there yet, "no identity issued") it is opened again with back-off
 * (0.5 s doubling to 30 s, back to the start once a message arrives), until close().
 */
export class X509SvidStream {
  readonly #client: ServiceClient;
  readonly #handlers: X509SvidStreamHandlers;
  #call: ClientReadableStream<X509SvidResponse> | undefined;
  #retry: NodeJS.Timeout | undefined;
  #backoffMs = BACKOFF_FIRST_MS;
  #closed = false;

  constructor(address: string, handlers: X509SvidStreamHandlers) {
    const Service = workloadApiClient();
    this.#client = new Service(grpcTarget(address), credentials.createInsecure());
    this.#handlers = handlers;
    this.#open();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#call?.cancel();
    this.#client.close();
  }

  #open(): void {
    const metadata = new Metadata();
    metadata.set(SECURITY_HEADER, 'true');
    const fetch = this.#client['FetchX509SVID'] as FetchX509Svid;
    const call = fetch.call(this.#client, {}, metadata);
    this.#call = call;
    let ended = false;
    const reopen = (err: Error): void => {
      if (ended || this.#closed) return;
      ended = true;
      const wait = this.#backoffMs;
      this.#backoffMs = Math.min(this.#backoffMs * 2, BACKOFF_MAX_MS);
      this.#handlers.error(err, wait);
      this.#retry = setTimeout(() => this.#open(), wait);
    };
    call.on('data', (response: X509SvidResponse) => {
      this.#backoffMs = BACKOFF_FIRST_MS;
      this.#handlers.update(response);
    });
    call.on('error', (err: Error) => reopen(err));
    call.on('end', () => reopen(new Error('the agent ended the stream')));
  }
}
