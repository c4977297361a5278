/**
 * The management API client: openapi-fetch typed by the types generated from svcauth's own OpenAPI
 * document (schema.d.ts), with the session's bearer token on every request.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { Session } from '../session.js';
import type { components, paths } from './schema.js';

export type Api = Client<paths>;

type Json<P extends keyof paths, M extends keyof paths[P], S extends number> = paths[P][M] extends {
  responses: { [K in S]: { content: { 'application/json': infer T } } };
}
  ? T
  : never;
type Body<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer T } };
}
  ? T
  : never;

/** A service account as every write answers it (reads add its credential counts). */
export type Account = Json<'/admin/v1/service-accounts/{account_id}', 'patch', 200>;
export type AccountCreate = Body<'/admin/v1/service-accounts', 'post'>;
export type AccountPage = Json<'/admin/v1/service-accounts', 'get', 200>;
export type ListedAccount = AccountPage['items'][number];
export type AccountListQuery = NonNullable<paths['/admin/v1/service-accounts']['get']['parameters']['query']>;
export type Credential = Json<
  '/admin/v1/service-accounts/{account_id}/credentials/{credential_id}',
  'get',
  200
>;
export type IssuedCredential = Json<'/admin/v1/service-accounts/{account_id}/credentials', 'post', 201>;
export type CredentialCreate = Body<'/admin/v1/service-accounts/{account_id}/credentials', 'post'>;
export type CredentialType = Credential['type'];
export type Role = Json<'/admin/v1/roles/{role_id}', 'get', 200>;
export type RoleCreate = Body<'/admin/v1/roles', 'post'>;
export type Location = Json<'/admin/v1/locations/{location_id}', 'get', 200>;
export type Settings = Json<'/admin/v1/settings', 'get', 200>;
export type SettingsUpdate = Body<'/admin/v1/settings', 'patch'>;
export type AuditEvent = Json<'/admin/v1/audit-events', 'get', 200>['items'][number];
export type AuditQuery = NonNullable<paths['/admin/v1/audit-events']['get']['parameters']['query']>;
export type Problem = components['schemas']['Problem'];

export function createApi(baseUrl: string, session: Session): Api {
  // Bearer tokens only: no cookie is ever sent, and no 401 can make the browser prompt.
  const client = createClient<paths>({ baseUrl, credentials: 'omit' });
  client.use({
    async onRequest({ request }) {
      request.headers.set('Authorization', `Bearer ${await session.token()}`);
      return request;
    },
  });
  return client;
}

/** A refusal of the management API, with what its problem body says to fix. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Partial<Problem>;
  constructor(status: number, problem: Partial<Problem>) {
    super(problem.detail ?? `the management API answered ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }
  /** The problem's code: the last segment of its type (e.g. role_in_use). */
  get code(): string {
    return this.problem.code ?? this.problem.type?.split('/').pop() ?? '';
  }
  /** The detail, then each field at fault. */
  describe(): string {
    const fields = (this.problem.errors ?? []).map((e) => `${e.field}: ${e.message}`);
    return [this.message, ...fields].join('; ');
  }
}

/** The data of a successful call, or an ApiError. */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (error !== undefined || !response.ok) {
    throw new ApiError(response.status, error ?? {});
  }
  return data!;
}

/** Every page of a listing (the console's own lists are short: locations, roles). */
export async function all<T>(
  fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; next_cursor: string | null }>,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    items.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return items;
}
