import { createHash, timingSafeEqual } from 'node:crypto';
import type { ResourceServerEntry } from '../config/index.ts';

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
    const match = /^basic ([A-Za-z0-9+/=]+)$/i.exec(authorization?.trim() ?? '');
    if (!match) return null;
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return null;
    const name = formDecode(decoded.slice(0, colon));
    const secret = formDecode(decoded.slice(colon + 1));
    if (name === null || secret === null) return null;
    const expected = this.#digests.get(name);
    const presented = createHash('sha256').update(secret, 'utf8').digest();
    const matches = timingSafeEqual(presented, expected ?? NO_DIGEST);
    return matches && expected !== undefined ? name : null;
  }
}

/** RFC 6749 2.3.1: Basic credentials are form-urlencoded before base64. */
function formDecode(value: string): string | null {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}
