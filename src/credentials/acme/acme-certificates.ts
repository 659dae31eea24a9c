import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, crypto as acmeCrypto } from 'acme-client';
import type { AcmeSettings, DataPlaneKind } from '../../config/types.ts';
import type { Log } from '../../log/logger.ts';
import { CredentialError } from '../credential-file.ts';
import { loadIdentity } from '../identity.ts';
import type { InstallCertificate } from '../certificate-service.ts';
import type { PushedCredentials } from '../store.ts';
import { AcmeStorage } from './acme-storage.ts';
import { TlsAlpnChallenges } from './tls-alpn-challenges.ts';

/** As certmagic: the first certificate is tried 5 times, 5 s apart at first, doubling, at most 2 min. */
const FIRST_ATTEMPTS = 5;
const FIRST_BACKOFF_MS = 5000;
const MAX_BACKOFF_MS = 120_000;

/** A certificate is renewed once a third of its lifetime is left (certmagic's default ratio). */
function renewalDue(notBefore: Date, notAfter: Date, now = Date.now()): boolean {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  return notAfter.getTime() - now <= lifetime / 3;
}

/**
 * A certificate for one name from an ACME CA (--auto-acme-*), validated with TLS-ALPN-01 on the
 * tunnel's own listener (and on --auto-acme-alt-tls-alpn-port, validation-port.ts): obtained at start unless a stored one is still good, renewed in the
 * background once a third of its lifetime is left, and swapped in like a reload (open connections
 * keep theirs). Account key and certificates are kept on disk (AcmeStorage).
 */
export class AcmeCertificates {
  readonly challenges: TlsAlpnChallenges;
  readonly #settings: AcmeSettings;
  readonly #log: Log;
  readonly #storage: AcmeStorage;
  #current: PushedCredentials | undefined;
  #timer: NodeJS.Timeout | undefined;
  #renewing = false;
  #closed = false;

  /** `plane`: the data plane that answers the TLS-ALPN-01 validations. */
  constructor(settings: AcmeSettings, log: Log, plane: DataPlaneKind) {
    this.challenges = new TlsAlpnChallenges(plane);
    this.#settings = settings;
    this.#log = log;
    this.#storage = new AcmeStorage(settings.directoryUrl);
    this.#current = this.#stored();
  }

  /** A stored certificate that is still valid, to serve from the start; undefined otherwise. */
  get initial(): PushedCredentials | undefined {
    return this.#current;
  }

  /**
   * Called once the listener accepts (challenges can be answered): obtains the first certificate
   * if none is stored (or the stored one is due), then checks for renewal every
   * --auto-acme-renew-check-interval. Throws CredentialError when the first certificate cannot be had.
   */
  async start(install: InstallCertificate, listenAddress: string): Promise<void> {
    const { fqdn, directoryUrl } = this.#settings;
    if (this.#current === undefined) {
      this.#log.info(`obtaining a certificate for ${fqdn} from ${directoryUrl} (TLS-ALPN-01 challenges answered on ${listenAddress})`, { fqdn, directory: directoryUrl, address: listenAddress });
      await this.#obtainFirst(install);
    } else if (this.#due()) {
      void this.#renew(install);
    }
    this.#timer = setInterval(() => {
      if (this.#due()) void this.#renew(install);
    }, this.#settings.renewCheckMs);
    this.#timer.unref();
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }

  #due(): boolean {
    const leaf = this.#current?.identity?.leaf;
    return leaf === undefined || renewalDue(leaf.validFromDate, leaf.validToDate);
  }

  async #obtainFirst(install: InstallCertificate): Promise<void> {
    let wait = FIRST_BACKOFF_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        const pushed = await this.#obtain();
        if (await install(pushed)) {
          this.#current = pushed;
          return;
        }
        throw new Error('the certificate obtained did not pass validation (see the reload error above)');
      } catch (err) {
        const message = (err as Error).message;
        if (attempt >= FIRST_ATTEMPTS || this.#closed) {
          throw new CredentialError(`obtaining a certificate for ${this.#settings.fqdn} from ${this.#settings.directoryUrl} failed ${attempt} times, last: ${message}`);
        }
        this.#log.error(`error: obtaining a certificate for ${this.#settings.fqdn} (attempt ${attempt} of ${FIRST_ATTEMPTS}): ${message}; retrying in ${wait / 1000}s`);
        await sleep(wait);
        wait = Math.min(wait * 2, MAX_BACKOFF_MS);
      }
    }
  }

  /** One renewal; a failure is logged and tried again at the next check, the current certificate serving meanwhile. */
  async #renew(install: InstallCertificate): Promise<void> {
    if (this.#renewing || this.#closed) return;
    this.#renewing = true;
    const leaf = this.#current?.identity?.leaf;
    this.#log.info(`renewing the certificate for ${this.#settings.fqdn}`, { fqdn: this.#settings.fqdn, serial: leaf?.serialNumber, not_after: leaf?.validToDate.toISOString() });
    try {
      const pushed = await this.#obtain();
      if (await install(pushed)) this.#current = pushed;
    } catch (err) {
      this.#log.error(`error: renewing the certificate for ${this.#settings.fqdn}: ${(err as Error).message}; the current certificate keeps serving, retrying at the next check`);
    } finally {
      this.#renewing = false;
    }
  }

  /** Orders a certificate, answers its TLS-ALPN-01 challenge, stores the result. */
  async #obtain(): Promise<PushedCredentials> {
    const { fqdn, email } = this.#settings;
    // Polls order and challenge status from 1 s on (acme-client's default starts at 5 s).
    const client = new Client({ directoryUrl: this.#settings.directoryUrl, accountKey: await this.#accountKey(), backoffMin: 1000, backoffMax: 10_000 });
    const [keyPem, csr] = await acmeCrypto.createCsr({ commonName: fqdn, altNames: [fqdn] }, await acmeCrypto.createPrivateEcdsaKey());
    const chainPem = await client.auto({
      csr,
      email,
      termsOfServiceAgreed: true,
      challengePriority: ['tls-alpn-01'],
      // The CA validates from outside; a self-check from here would go through our own DNS view.
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        // acme-client's types know http-01 and dns-01 only; CAs offer tls-alpn-01 too.
        if ((challenge.type as string) !== 'tls-alpn-01') throw new Error(`the CA offers no tls-alpn-01 challenge for ${authz.identifier.value} (only ${challenge.type}); ghostunnel answers TLS-ALPN-01 only`);
        const [challengeKey, challengeCert] = await acmeCrypto.createAlpnCertificate(authz, keyAuthorization);
        this.challenges.add(authz.identifier.value, challengeCert.toString(), challengeKey.toString());
      },
      challengeRemoveFn: async (authz) => {
        this.challenges.remove(authz.identifier.value);
      },
    });
    const paths = this.#storage.certificatePaths(fqdn);
    this.#storage.write(paths.key, keyPem.toString());
    this.#storage.write(paths.cert, chainPem);
    return this.#credentials(chainPem, keyPem.toString());
  }

  async #accountKey(): Promise<string> {
    const path = this.#storage.accountKeyPath;
    const stored = this.#storage.read(path);
    if (stored !== undefined) return stored;
    const key = (await acmeCrypto.createPrivateEcdsaKey()).toString();
    this.#storage.write(path, key);
    this.#log.info(`created an ACME account key in ${path}`);
    return key;
  }

  /** The stored certificate, if there is one that is not expired; a broken one is logged and replaced. */
  #stored(): PushedCredentials | undefined {
    const paths = this.#storage.certificatePaths(this.#settings.fqdn);
    const chainPem = this.#storage.read(paths.cert);
    const keyPem = this.#storage.read(paths.key);
    if (chainPem === undefined || keyPem === undefined) return undefined;
    try {
      return this.#credentials(chainPem, keyPem);
    } catch (err) {
      this.#log.warn(`not using the stored certificate for ${this.#settings.fqdn}: ${(err as Error).message}; obtaining a new one`);
      return undefined;
    }
  }

  #credentials(chainPem: string, keyPem: string): PushedCredentials {
    const paths = this.#storage.certificatePaths(this.#settings.fqdn);
    const identity = loadIdentity({ cert: paths.cert, key: paths.key }, (path) => Buffer.from(path === paths.cert ? chainPem : keyPem));
    return {
      identity,
      trust: undefined,
      digest: createHash('sha256').update(chainPem).update(keyPem).digest('hex'),
      label: `ACME certificate for ${this.#settings.fqdn} (${paths.cert})`,
    };
  }
}
