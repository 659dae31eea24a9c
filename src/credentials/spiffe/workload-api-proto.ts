import { loadPackageDefinition, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../package-root.ts';

const PROTO_FILE = join(PACKAGE_ROOT, 'proto', 'spiffe', 'workload.proto');

/** The metadata every Workload API call carries; agents reject calls without it. */
export const SECURITY_HEADER = 'workload.spiffe.io';

/** One X.509-SVID as decoded from the wire (field names as in the .proto). */
export interface X509SvidMessage {
  readonly spiffe_id: string;
  /** Leaf then intermediates, concatenated DER. */
  readonly x509_svid: Buffer;
  /** PKCS#8 DER. */
  readonly x509_svid_key: Buffer;
  /** CA certificates of the SVID's trust domain, concatenated DER. */
  readonly bundle: Buffer;
  readonly hint: string;
}

/** One message of the FetchX509SVID stream; it replaces everything the previous one said. */
export interface X509SvidResponse {
  readonly svids: readonly X509SvidMessage[];
  readonly crl: readonly Buffer[];
  /** Trust domain → concatenated DER CA certificates. */
  readonly federated_bundles: Readonly<Record<string, Buffer>>;
}

interface WorkloadApiPackage {
  readonly SpiffeWorkloadAPI: ServiceClientConstructor;
}

let loaded: WorkloadApiPackage | undefined;

/** The SpiffeWorkloadAPI service, from proto/spiffe/workload.proto (no package: path /SpiffeWorkloadAPI/…). */
function workloadApiPackage(): WorkloadApiPackage {
  // defaults: absent repeated/map/bytes fields decode as [], {} and empty buffers.
  loaded ??= loadPackageDefinition(loadSync(PROTO_FILE, { keepCase: true, defaults: true })) as unknown as WorkloadApiPackage;
  return loaded;
}

/** The client class (grpc-js makes one per service definition). */
export function workloadApiClient(): ServiceClientConstructor {
  return workloadApiPackage().SpiffeWorkloadAPI;
}

/** The service definition, for a server implementing it (tests stand in for an agent with it). */
export function workloadApiService(): ServiceDefinition {
  return workloadApiPackage().SpiffeWorkloadAPI.service;
}
