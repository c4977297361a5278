import { createHash, timingSafeEqual } from 'node:crypto';
import type { ResourceServerEntry } from '../config/index.ts';
import { readBasicCredentials } from './basic-credentials.ts';

/** Compared against when the name is unknown, so an unknown name costs what a wrong secret costs. */
const NO_DIGEST = Buffer.alloc(32);

/** The deployment credentials made through the platform API, by name (see DeploymentCredentialDirectory). */
export interface DeploymentCredentialDigests {
  /** The live ones of a kind, current as of the last change any instance committed. */
  digests(kind: 'resource_server' | 'operator'): Promise<ReadonlyMap<string, Buffer>>;
}

/**
 * The callers of /introspect and /revocations: resource servers listed in RESOURCE_SERVERS, or made
 * through the platform API, each by the SHA-256 of its secret. They authenticate with HTTP Basic
 * `name:secret`; tenants' credentials are never accepted here. The comparison is constant-time.
 */
export class ResourceServerAuthenticator {
  readonly #configured: ReadonlyMap<string, Buffer>;
  readonly #made: DeploymentCredentialDigests | null;
  readonly #kind: 'resource_server' | 'operator';

  constructor(
    entries: readonly ResourceServerEntry[],
    made: DeploymentCredentialDigests | null = null,
    kind: 'resource_server' | 'operator' = 'resource_server',
  ) {
    this.#configured = new Map(entries.map((entry) => [entry.name, entry.secretSha256]));
    this.#made = made;
    this.#kind = kind;
  }

  /** Whether any credential of this kind exists (in the configuration or made through the API). */
  async configured(): Promise<boolean> {
    return this.#configured.size > 0 || (await this.#digests()).size > 0;
  }

  /** The resource server's name, or null when the header does not carry valid credentials. */
  async authenticate(authorization: string | undefined): Promise<string | null> {
    const basic = readBasicCredentials(authorization);
    const name = basic?.id ?? null;
    const secret = basic?.secret ?? null;
    if (name === null || secret === null) return null;
    return this.matchNamed(name, secret);
  }

  /** `name` when `secret` is its secret, else null. */
  protected async matchNamed(name: string, secret: string): Promise<string | null> {
    const expected = this.#configured.get(name) ?? (await this.#digests()).get(name);
    const presented = createHash('sha256').update(secret, 'utf8').digest();
    const matches = timingSafeEqual(presented, expected ?? NO_DIGEST);
    return matches && expected !== undefined ? name : null;
  }

  /**
   * The name whose secret `secret` is, or null. Every entry is compared (constant-time each), so the
   * time taken says nothing about which entry, if any, matched.
   */
  protected async matchAny(secret: string): Promise<string | null> {
    const presented = createHash('sha256').update(secret, 'utf8').digest();
    let found: string | null = null;
    for (const entries of [this.#configured, await this.#digests()]) {
      for (const [name, expected] of entries) {
        if (timingSafeEqual(presented, expected) && found === null) found = name;
      }
    }
    return found;
  }

  #digests(): Promise<ReadonlyMap<string, Buffer>> {
    return this.#made ? this.#made.digests(this.#kind) : Promise.resolve(new Map());
  }
}

/**
 * The callers of /platform/v1: operators listed in OPERATORS or made through the platform API, each by
 * the SHA-256 of its secret, with HTTP Basic `name:secret` or `Bearer <secret>`. Two (old and new) may
 * be valid at once, which is how a secret is rotated without downtime.
 */
export class OperatorAuthenticator extends ResourceServerAuthenticator {
  constructor(entries: readonly ResourceServerEntry[], made: DeploymentCredentialDigests | null = null) {
    super(entries, made, 'operator');
  }

  /**
   * The operator name the header presents (HTTP Basic), right or wrong, for counting failures; null
   * for a Bearer secret or no credentials.
   */
  presentedName(authorization: string | undefined): string | null {
    return readBasicCredentials(authorization)?.id ?? null;
  }

  /** The operator's name, or null when the header does not carry valid operator credentials. */
  override async authenticate(authorization: string | undefined): Promise<string | null> {
    const bearer = /^bearer +(\S+) *$/i.exec(authorization ?? '');
    if (bearer) return this.matchAny(bearer[1]!);
    return super.authenticate(authorization);
  }
}
