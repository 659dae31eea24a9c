import type { Config, DataPlaneKind } from '../config/types.ts';
import type { Log } from '../log/logger.ts';
import type { TlsAlpnChallenges } from './acme/tls-alpn-challenges.ts';
import type { PushedCredentials } from './store.ts';

/** Swaps credentials in; resolves true once they are served (false: they failed validation, the old ones stay). */
export type InstallCertificate = (pushed: PushedCredentials) => Promise<boolean>;

/**
 * Where the identity comes from when it is not files: the SPIFFE Workload API or ACME. Either
 * hands over new credentials through `install`, which swaps them in like a reload.
 */
export interface CertificateService {
  /** Names the reload an update causes. */
  readonly trigger: 'workload-api' | 'acme';
  /** The credentials to start serving with: the first SVID, a stored ACME certificate, or none yet. */
  readonly initial: PushedCredentials | undefined;
  /** ACME: the TLS-ALPN-01 challenges the listener answers. */
  readonly challenges: TlsAlpnChallenges | undefined;
  /** Once the listener accepts: hands over updates from now on (ACME obtains its first certificate first). */
  start(install: InstallCertificate, listenAddress: string): Promise<void>;
  close(): void;
}

/**
 * Connects the service the config names, if any (`plane`: the data plane answering ACME's validations). The Workload API is waited for here (up to
 * --use-workload-api-timeout), before anything is bound; throws CredentialError when it fails.
 * gRPC and the ACME client are loaded only when used: acme-client alone takes seconds to load.
 */
export async function startCertificateService(config: Config, log: Log, plane: DataPlaneKind): Promise<CertificateService | undefined> {
  if (config.workloadApi !== undefined) {
    const { WorkloadApiSource } = await import('./spiffe/workload-api-source.ts');
    const source = await WorkloadApiSource.start({ settings: config.workloadApi, presentIdentity: config.workloadApi.presentIdentity, log });
    const initial = source.current;
    return {
      trigger: 'workload-api',
      initial,
      challenges: undefined,
      start: async (install) => source.onUpdate((pushed) => void install(pushed), initial),
      close: () => source.close(),
    };
  }
  if (config.acme !== undefined) {
    const { AcmeCertificates } = await import('./acme/acme-certificates.ts');
    const acme = new AcmeCertificates(config.acme, log, plane);
    return {
      trigger: 'acme',
      initial: acme.initial,
      challenges: acme.challenges,
      start: (install, listenAddress) => acme.start(install, listenAddress),
      close: () => acme.close(),
    };
  }
  return undefined;
}
