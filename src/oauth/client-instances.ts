import type { Context } from 'koa';
import { Provider } from 'oidc-provider';
import type { TokenSubject } from '../services/token-subject-service.ts';
import type { Logger } from '../logging/logger.ts';
import { presentsBasicAuth } from './client-metadata.ts';
import { getRequestSubject, setRequestSubject, type SubjectResolver } from './request-subject.ts';
import { temporarilyUnavailable } from './unavailable.ts';

type ClientInstance = NonNullable<Awaited<ReturnType<Provider['Client']['find']>>>;

/**
 * oidc-provider builds a Client (schema validation, key stores) from adapter metadata and keeps only
 * the last 100 in a fixed-size cache; with more warm credentials than that, every token request would
 * rebuild its client. Client.find is wrapped so each cached token subject keeps its own Client
 * instances: a subject changes identity whenever it is reloaded (a change event dropped it), so a
 * stale Client can never outlive the data it was built from, and memory follows the subject cache.
 */
export function installClientInstanceCache(
  provider: Provider,
  subjects: SubjectResolver,
  logger: Logger,
): void {
  const Client = provider.Client;
  const build = Client.find.bind(Client);
  const instances = new WeakMap<TokenSubject, Map<string, ClientInstance>>();

  Client.find = async function find(id: string) {
    const ctx = Provider.ctx as Context | undefined;
    let subject: TokenSubject | null;
    try {
      subject = await subjects.findByClientId(id);
    } catch (error) {
      logger.error({ err: error }, 'token subject lookup failed; answering 503');
      throw temporarilyUnavailable(ctx);
    }
    if (!subject) return undefined;
    if (ctx) setRequestSubject(ctx, subject);
    // The registered method depends on how this request presents its secret (see client-metadata.ts).
    const variant = presentsBasicAuth(ctx?.get('authorization')) ? 'basic' : 'other';
    const byVariant = instances.get(subject) ?? new Map<string, ClientInstance>();
    const cached = byVariant.get(variant);
    if (cached) return cached;
    const client = await build(id);
    // build() looks the subject up again (through the adapter). If a change replaced it meanwhile, the
    // Client was built from the newer rows and belongs to neither: it serves this request only.
    // Instances kept under a dropped subject are never read again (the resolver returns the new one).
    if (client && (!ctx || getRequestSubject(ctx) === subject)) {
      byVariant.set(variant, client);
      instances.set(subject, byVariant);
    }
    return client;
  };
}
