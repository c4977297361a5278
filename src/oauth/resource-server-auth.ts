import { createHash, timingSafeEqual } from 'node:crypto';
import type { ResourceServerEntry } from '../config/index.ts';
import { readBasicCredentials } from './basic-credentials.ts';

/** Compared against when the name is unknown, so an unknown name costs what a wrong secret costs. */
const NO_DIGEST = Buffer.alloc(32);

/**
 * The callers of /introspect and /revocations: resource servers listed in RESOURCE_SERVERS, each by the
 * SHA-256 of its secret. They authenticate with HTTP Basic `name:secret`; tenants' credentials are
 * never accepted here. The comparison is constant-time.
 */
export class ResourceServerAuthenticator {
  readonly #digests: Map<string, Buffer>;

  constructor(entries: readonly ResourceServerEntry[]) {
    this.#digests = new Map(entries.map((entry) => [entry.name, entry.secretSha256]));
  }

  get configured(): boolean {
    return this.#digests.size > 0;
  }

  /** The resource server's name, or null when the header does not carry valid credentials. */
  authenticate(authorization: string | undefined): string | null {
    const basic = readBasicCredentials(authorization);
    const name = basic?.id ?? null;
    const secret = basic?.secret ?? null;
    if (name === null || secret === null) return null;
    return this.matchNamed(name, secret);
  }

  /** `name` when `secret` is its secret, else null. */
  protected matchNamed(name: string, secret: string): string | null {
    const expected = this.#digests.get(name);
    const presented = createHash('sha256').update(secret, 'utf8').digest();
    const matches = timingSafeEqual(presented, expected ?? NO_DIGEST);
    return matches && expected !== undefined ? name : null;
  }

  /**
   * The name whose secret `secret` is, or null. Every entry is compared (constant-time each), so the
   * time taken says nothing about which entry, if any, matched.
   */
  protected matchAny(secret: string): string | null {
    const presented = createHash('sha256').update(secret, 'utf8').digest();
    let found: string | null = null;
    for (const [name, expected] of this.#digests) {
      if (timingSafeEqual(presented, expected) && found === null) found = name;
    }
    return found;
  }
}

/**
 * The callers of /platform/v1: operators listed in OPERATORS, each by the SHA-256 of its secret, with
 * HTTP Basic `name:secret` or `Bearer <secret>`. Two entries (old and new) may be valid at once, which
 * is how a secret is rotated without downtime.
 */
export class OperatorAuthenticator extends ResourceServerAuthenticator {
  /**
   * The operator name the header presents (HTTP Basic), right or wrong, for counting failures; null
   * for a Bearer secret or no credentials.
   */
  presentedName(authorization: string | undefined): string | null {
    return readBasicCredentials(authorization)?.id ?? null;
  }

  /** The operator's name, or null when the header does not carry valid operator credentials. */
  override authenticate(authorization: string | undefined): string | null {
    const bearer = /^bearer +(\S+) *$/i.exec(authorization ?? '');
    if (bearer) return this.matchAny(bearer[1]!);
    return super.authenticate(authorization);
  }
}
