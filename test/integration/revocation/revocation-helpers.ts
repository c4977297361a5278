import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Kysely } from 'kysely';
import { DEFAULT_PRODUCT_PERMISSIONS } from '../../../config/permissions.ts';
import { type Config, loadConfig } from '../../../src/config/index.ts';
import { generateSigningKeys } from '../../../src/keys/signing-keys.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../../../src/persistence/database.ts';
import { RoleRepository } from '../../../src/persistence/repositories/role-repository.ts';
import { ServiceAccountRepository } from '../../../src/persistence/repositories/service-account-repository.ts';
import type { Database } from '../../../src/persistence/schema.ts';
import { SseParser, type ServerSentEvent } from '../../../src/resource-server/sse.ts';
import { type RunningServer, startServer } from '../../../src/server.ts';
import { bootstrapOrganization } from '../../../src/services/bootstrap-service.ts';
import { SecretHasher } from '../../../src/keys/secret-hasher.ts';
import { deleteKeysWithPrefix } from '../../helpers/redis-keys.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';
import { TEST_BCRYPT_COST, TEST_RUN_ENV } from '../../helpers/test-env.ts';
import { freePort } from '../../helpers/test-server.ts';

const NODE = path.resolve('node_modules/.bin/node');

/** The resource server every scenario's feed subscriber and introspection caller authenticates as. */
export const RESOURCE_SERVER = { name: 'scenario-rs', secret: randomBytes(24).toString('base64url') };
const RESOURCE_SERVERS = `${RESOURCE_SERVER.name}:${createHash('sha256').update(RESOURCE_SERVER.secret).digest('hex')}`;

/**
 * svcauth as the scenarios see it: instance A and instance B (the same in-process server when there is
 * only one), the issuer every token carries, a database handle for seeding, and a way to lose the state
 * store's contents.
 */
export interface Deployment {
  a: string;
  b: string;
  issuer: string;
  db: Kysely<Database>;
  /** Loses everything the state store holds (Redis: every key of the deployment's prefix). */
  emptyStateStore(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Two `node src/main.ts` processes sharing one fresh Postgres database, one Redis key prefix and one
 * key directory, as a deployment behind a load balancer would (same ISSUER).
 */
export async function startTwoProcesses(extraEnv: Record<string, string> = {}): Promise<Deployment> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-revocation-'));
  const database = await createTestDatabase(path.join(workDir, 'data'));
  if (database.config.kind !== 'postgres') throw new Error('two processes need DATABASE_URL (Postgres)');
  const keysDir = path.join(workDir, 'keys');
  await generateSigningKeys(keysDir, 'ES256');
  const prefix = `svcauth-test:${randomUUID()}:`;
  const [portA, portB] = [await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${portA}`;
  const env = {
    ...process.env,
    HOST: '127.0.0.1',
    ISSUER: issuer,
    DATABASE_URL: database.config.url,
    DB_POOL_MAX: '5',
    REDIS_URL: process.env.REDIS_URL!,
    REDIS_KEY_PREFIX: prefix,
    KEYS_DIR: keysDir,
    ...TEST_RUN_ENV,
    LOG_LEVEL: 'warn',
    RESOURCE_SERVERS,
    ...extraEnv,
  };
  // One migrates first, so the two do not race on a fresh database.
  const handle = await openDatabase(database.config);
  await migrateToLatest(handle.db);
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(stopProcess));
    await handle.close();
    await deleteKeysWithPrefix(process.env.REDIS_URL!, prefix);
    fs.rmSync(workDir, { recursive: true, force: true });
  };
  try {
    for (const port of [portA, portB]) {
      const child = spawn(NODE, ['src/main.ts'], {
        env: { ...env, PORT: String(port) },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr.on('data', (chunk: Buffer) => process.stderr.write(`[svcauth :${port}] ${chunk}`));
      children.push(child);
    }
    const urls = [portA, portB].map((port) => `http://127.0.0.1:${port}`);
    await Promise.all(urls.map((url, i) => waitUntilReady(url, children[i]!)));
    return {
      a: urls[0]!,
      b: urls[1]!,
      issuer,
      db: handle.db,
      emptyStateStore: () => deleteKeysWithPrefix(process.env.REDIS_URL!, prefix),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * One in-process server on the in-process state store (REDIS_URL unset) and the embedded database, or
 * Postgres when DATABASE_URL is set. Emptying the state store restarts the server on the same database:
 * the in-process store of a new process starts empty, as a flushed Redis does.
 */
export async function startSingleProcess(extraEnv: Record<string, string> = {}): Promise<Deployment> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-revocation-'));
  const database: TestDatabase = await createTestDatabase(path.join(workDir, 'data'));
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const config: Config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: issuer,
    KEYS_DIR: path.join(workDir, 'keys'),
    DATA_DIR: path.join(workDir, 'data'),
    ...(database.config.kind === 'postgres' ? { DATABASE_URL: database.config.url } : {}),
    RESOURCE_SERVERS,
    LOG_LEVEL: 'warn',
    ...TEST_RUN_ENV,
    ...extraEnv,
  });
  if (config.redisUrl) throw new Error('the single-process deployment runs on the in-process state store');
  if (config.database.kind === 'postgres') await generateSigningKeys(config.keysDir, config.signingAlg);
  const logger = createLogger({
    level: config.logLevel,
    destination: new Writable({ write: (_chunk, _encoding, callback) => callback() }),
  });
  let server: RunningServer = await startServer(config, logger);
  const deployment: Deployment = {
    a: issuer,
    b: issuer,
    issuer,
    get db() {
      return server.database.db;
    },
    emptyStateStore: async () => {
      await server.close();
      server = await startServer(config, logger);
    },
    stop: async () => {
      await server.close();
      fs.rmSync(workDir, { recursive: true, force: true });
    },
  };
  return deployment;
}

async function waitUntilReady(url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: svcauth exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} was not ready within ${timeoutMs} ms`);
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

// ---------------------------------------------------------------------------------------------------
// Clients of the deployment

export function basic(username: string, password: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(username)}:${encode(password)}`).toString('base64')}`;
}

export const resourceServerAuthorization = () => basic(RESOURCE_SERVER.name, RESOURCE_SERVER.secret);

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function json(response: Response): Promise<JsonResponse> {
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

export async function requestToken(
  url: string,
  clientId: string,
  secret: string,
  parameters: Record<string, string> = {},
): Promise<JsonResponse> {
  return json(
    await fetch(`${url}/token`, {
      method: 'POST',
      headers: {
        authorization: basic(clientId, secret),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...parameters }).toString(),
    }),
  );
}

export async function accessToken(
  url: string,
  clientId: string,
  secret: string,
  parameters: Record<string, string> = {},
): Promise<string> {
  const response = await requestToken(url, clientId, secret, parameters);
  if (response.status !== 200) throw new Error(`token request failed: ${JSON.stringify(response.body)}`);
  return response.body.access_token as string;
}

export async function introspect(url: string, token: string): Promise<JsonResponse> {
  return json(
    await fetch(`${url}/introspect`, {
      method: 'POST',
      headers: {
        authorization: resourceServerAuthorization(),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }).toString(),
    }),
  );
}

export async function revokeToken(
  url: string,
  clientId: string,
  secret: string,
  token: string,
): Promise<JsonResponse> {
  return json(
    await fetch(`${url}/revoke`, {
      method: 'POST',
      headers: {
        authorization: basic(clientId, secret),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
    }),
  );
}

export async function feedSnapshot(url: string): Promise<JsonResponse> {
  return json(
    await fetch(`${url}/revocations`, {
      headers: { authorization: resourceServerAuthorization(), accept: 'application/json' },
    }),
  );
}

/** The management API, as an admin of one organization. */
export class Admin {
  readonly #url: string;
  readonly #token: string;
  constructor(url: string, token: string) {
    this.#url = url;
    this.#token = token;
  }

  async call(method: string, path: string, body?: unknown): Promise<JsonResponse> {
    const response = await fetch(`${this.#url}/admin/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.#token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return json(response);
  }

  async ok(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const response = await this.call(method, path, body);
    if (response.status >= 300) {
      throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(response.body)}`);
    }
    return response.body;
  }
}

export interface Organization {
  orgId: string;
  admin: Admin;
  /** The admin's credential, for tokens of its own. */
  adminClient: { clientId: string; secret: string };
  /** A role with every product permission, and one with items:read only. */
  everything: string;
  reader: string;
}

/**
 * `svcauth bootstrap` for a new organization; the admin account also gets every product permission
 * (an admin grants only what it holds), then obtains a management token from instance `url`.
 */
export async function bootstrap(deployment: Deployment, url: string, slug: string): Promise<Organization> {
  const db = deployment.db;
  const result = await bootstrapOrganization(db, new SecretHasher(TEST_BCRYPT_COST), { slug });
  const roles = new RoleRepository(db);
  const everything = await roles.create(result.org_id, {
    name: 'Everything in the product',
    permissions: DEFAULT_PRODUCT_PERMISSIONS.map((p) => p.name),
  });
  const reader = await roles.create(result.org_id, { name: 'Reader', permissions: ['items:read'] });
  const adminRole = (await roles.findLiveByName(result.org_id, 'API Admin'))!;
  await new ServiceAccountRepository(db).replaceAssignments(result.org_id, result.admin_account_id, {
    locationIds: [],
    roles: [
      { roleId: adminRole.id, restrictedTo: null },
      { roleId: everything.id, restrictedTo: null },
    ],
  });
  const token = await accessToken(url, result.client_id, result.client_secret, {
    resource: `${deployment.issuer}/admin`,
  });
  return {
    orgId: result.org_id,
    admin: new Admin(url, token),
    adminClient: { clientId: result.client_id, secret: result.client_secret },
    everything: everything.id,
    reader: reader.id,
  };
}

export interface IssuedCredential {
  accountId: string;
  credentialId: string;
  clientId: string;
  secret: string;
}

/** A service account on all locations with the given roles and one credential, through the management API. */
export async function serviceAccount(
  organization: Organization,
  roleIds: string[],
  type: 'oauth_client' | 'api_key' = 'oauth_client',
): Promise<IssuedCredential> {
  const account = await organization.admin.ok('POST', '/service-accounts', {
    name: `account ${randomUUID()}`,
    all_locations: true,
    roles: roleIds.map((role_id) => ({ role_id })),
  });
  const credential = await organization.admin.ok('POST', `/service-accounts/${account.id}/credentials`, {
    name: 'integration',
    type,
  });
  return {
    accountId: account.id as string,
    credentialId: credential.id as string,
    clientId: credential.client_id as string,
    secret: (type === 'api_key' ? credential.api_key : credential.client_secret) as string,
  };
}

// ---------------------------------------------------------------------------------------------------
// A feed subscriber, reading the event stream like the kit does (Last-Event-ID, SSE parsing)

export class FeedSubscriber {
  readonly events: ServerSentEvent[] = [];
  readonly #controller = new AbortController();
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #waiters: Array<() => void> = [];
  #done: Promise<void> = Promise.resolve();

  static async connect(url: string, cursor?: string): Promise<FeedSubscriber> {
    const subscriber = new FeedSubscriber();
    const response = await fetch(`${url}/revocations`, {
      headers: {
        authorization: resourceServerAuthorization(),
        accept: 'text/event-stream',
        ...(cursor ? { 'last-event-id': cursor } : {}),
      },
      signal: subscriber.#controller.signal,
    });
    if (response.status !== 200 || !response.body) {
      throw new Error(`GET /revocations answered ${response.status}: ${await response.text()}`);
    }
    subscriber.#reader = response.body.getReader();
    subscriber.#done = subscriber.#read();
    return subscriber;
  }

  async #read(): Promise<void> {
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await this.#reader!.read();
        if (done) return;
        this.events.push(...parser.push(decoder.decode(value, { stream: true })));
        for (const waiter of this.#waiters.splice(0)) waiter();
      }
    } catch {
      // closed
    }
  }

  /** The first event (after `from`) matching, within timeoutMs. */
  async waitFor(
    match: (event: ServerSentEvent, data: Record<string, unknown>) => boolean,
    timeoutMs = 5_000,
    from = 0,
  ): Promise<{ event: ServerSentEvent; data: Record<string, unknown>; index: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let index = from; index < this.events.length; index++) {
        const event = this.events[index]!;
        const data = JSON.parse(event.data) as Record<string, unknown>;
        if (match(event, data)) return { event, data, index };
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `no matching feed event within ${timeoutMs} ms; got ${this.events.map((e) => e.event).join(', ')}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Settles when the stream has ended (or was closed). */
  get ended(): Promise<void> {
    return this.#done;
  }

  async close(): Promise<void> {
    this.#controller.abort();
    await this.#reader?.cancel().catch(() => {});
    await this.#done;
  }
}

export { eventually } from '../../helpers/eventually.ts';
export { deleteKeysWithPrefix };

export type { DatabaseHandle };
