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
    const expected = this.#digests.get(name);
    const presented = createHash('sha256').update(secret, 'utf8').digest();
    const matches = timingSafeEqual(presented, expected ?? NO_DIGEST);
    return matches && expected !== undefined ? name : null;
  }
}
