import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcrypt';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatabaseConfig, openDatabase } from '../../../src/persistence/database.ts';
import { runCli } from '../../helpers/cli.ts';
import {
  copyPgliteTemplate,
  createTestDatabase,
  type TestDatabase,
  usingPostgres,
} from '../../helpers/test-database.ts';

/**
 * The `svcauth` CLI and `node src/main.ts` as an operator runs them, with nothing but environment
 * variables, on the embedded database and (when DATABASE_URL is set) on Postgres. CLI commands run in
 * this process through the CLI's run(argv, io) (starting Node per command cost seconds each); the real
 * binary is run once, on an empty DATA_DIR ("the embedded database is one process at a time"), and the
 * server's refusals are child processes.
 */

const ROOT = path.resolve(import.meta.dirname, '../../..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of the test run without the backends it names: each test says what it wants. */
function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'DATA_DIR', 'KEYS_DIR', 'PORT', 'HOST', 'ISSUER']) {
    delete env[name];
  }
  env.LOG_LEVEL = 'info';
  return env;
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The CLI in this process. */
const svcauth = (args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> => runCli(args, env);
/** The real binary, bin/svcauth.js, in a child process. */
const svcauthBinary = (args: string[], env: NodeJS.ProcessEnv) => run(['bin/svcauth.js', ...args], env);

function oneLine(text: string): string {
  const lines = text.trim().split('\n');
  expect(lines, text).toHaveLength(1);
  return lines[0]!;
}

interface BootstrapOutput {
  org_id: string;
  org_slug: string;
  created_organization: boolean;
  admin_account_id: string;
  credential_id: string;
  client_id: string;
  client_secret: string;
}

function parseBootstrap(result: RunResult): BootstrapOutput {
  expect(result.code, result.stderr).toBe(0);
  const line = oneLine(result.stdout);
  const output = JSON.parse(line) as BootstrapOutput;
  expect(output).toBeTypeOf('object');
  expect(Array.isArray(output)).toBe(false);
  expect(output).toMatchObject({
    org_id: expect.any(String),
    admin_account_id: expect.any(String),
    client_id: expect.stringMatching(/^svcc_/),
    client_secret: expect.stringMatching(/^svcs_/),
  });
  return output;
}

interface Backend {
  name: string;
  /** Prepares an empty backend; returns the environment that selects it and how to read it. */
  setup(workDir: string): Promise<{ env: NodeJS.ProcessEnv; database: DatabaseConfig }>;
}

const backends: Backend[] = [
  {
    name: 'the embedded database (no DATABASE_URL)',
    setup: async (workDir) => {
      const dataDir = path.join(workDir, 'data');
      // Initialised but without a schema: the CLI still migrates it (initdb itself: the binary's test).
      await copyPgliteTemplate(dataDir, 'empty');
      return {
        env: { DATA_DIR: dataDir },
        database: { kind: 'pglite', dataDir },
      };
    },
  },
  ...(usingPostgres
    ? [
        {
          name: 'a fresh Postgres database (DATABASE_URL)',
          setup: async (workDir: string) => {
            const test: TestDatabase = await createTestDatabase(path.join(workDir, 'unused'));
            if (test.config.kind !== 'postgres') throw new Error('expected a Postgres test database');
            return {
              env: { DATABASE_URL: test.config.url },
              database: { ...test.config, poolMax: 2 },
            };
          },
        },
      ]
    : []),
];

/**
 * The file's child processes take seconds each (a Node start, and for the embedded server an initdb in
 * WebAssembly): they all start with the file and run while the in-process tests above them do; each
 * describe awaits the ones it asserts on.
 */
const ISSUER = 'http://svcauth.test';
let processesDir: string;
let embeddedServer: Promise<EmbeddedServer>;
/** `node src/main.ts` with each bad configuration (the cases of 'configuration errors'), by case name. */
const configErrorRuns = new Map<string, Promise<RunResult>>();

const configErrorCases: Array<[string, Record<string, string>]> = [
  ['DATABASE_URL', { DATABASE_URL: 'nonsense' }],
  ['PORT', { PORT: '-1' }],
  ['PORT', { PORT: '65536' }],
  ['ISSUER', { ISSUER: 'not a url' }],
  ['WORKERS', { WORKERS: 'many' }],
  // Several workers cannot share the embedded database or the in-process state store.
  ['WORKERS', { WORKERS: '2' }],
];
const caseName = (values: Record<string, string>) =>
  Object.entries(values)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

beforeAll(() => {
  processesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-processes-'));
  const configDir = path.join(processesDir, 'config');
  for (const [, values] of configErrorCases) {
    const result = run(['src/main.ts'], {
      ...baseEnv(),
      DATA_DIR: path.join(configDir, 'data'),
      KEYS_DIR: path.join(configDir, 'keys'),
      ...values,
    });
    // Awaited by its test; a test that never runs must not leave an unhandled rejection.
    result.catch(() => {});
    configErrorRuns.set(caseName(values), result);
  }
  embeddedServer = startEmbeddedServer(path.join(processesDir, 'lock'));
  embeddedServer.catch(() => {});
});

afterAll(async () => {
  // Only if a test failed before stopping it.
  const started = await embeddedServer.catch(() => undefined);
  if (started && started.server.exitCode === null && started.server.signalCode === null) {
    started.server.kill('SIGKILL');
    await started.serverExit;
  }
  await Promise.allSettled(configErrorRuns.values());
  if (processesDir) fs.rmSync(processesDir, { recursive: true, force: true });
}, 60_000);

interface EmbeddedServer {
  env: NodeJS.ProcessEnv;
  admin: BootstrapOutput;
  server: ChildProcess;
  serverExit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  serverUrl: string;
}

/** The real binary bootstraps an empty DATA_DIR, then `node src/main.ts` serves it. */
async function startEmbeddedServer(workDir: string): Promise<EmbeddedServer> {
  const env = {
    ...baseEnv(),
    DATA_DIR: path.join(workDir, 'data'),
    KEYS_DIR: path.join(workDir, 'keys'),
    PORT: '0',
    HOST: '127.0.0.1',
    ISSUER,
  };
  // The smoke test of the real binary: `svcauth bootstrap` on an empty DATA_DIR (initdb included).
  const admin = parseBootstrap(await svcauthBinary(['bootstrap', '--org', 'acme', '--json'], env));

  const server = spawn(NODE, ['src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const serverExit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    server.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let stderr = '';
  server.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const serverUrl = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    server.stdout.on('data', (chunk) => {
      buffered += chunk;
      for (const line of buffered.split('\n')) {
        if (!line.includes('svcauth listening')) continue;
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    server.once('exit', (code) => reject(new Error(`server exited (${code}) before listening: ${stderr}`)));
  });
  return { env, admin, server, serverExit, serverUrl };
}

for (const backend of backends) {
  describe(`svcauth bootstrap on ${backend.name}`, () => {
    let workDir: string;
    let env: NodeJS.ProcessEnv;
    let database: DatabaseConfig;
    let first: BootstrapOutput;
    let second: BootstrapOutput;

    beforeAll(async () => {
      workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-cli-'));
      const backendSetup = await backend.setup(workDir);
      env = { ...baseEnv(), KEYS_DIR: path.join(workDir, 'keys'), ...backendSetup.env };
      database = backendSetup.database;
      first = parseBootstrap(await svcauth(['bootstrap', '--org', 'acme', '--json'], env));
      second = parseBootstrap(await svcauth(['bootstrap', '--org', 'acme', '--json'], env));
    }, 120_000);

    afterAll(async () => {
      if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
    }, 60_000);

    it('prints exactly one JSON object with the organization, the admin account and the credential', () => {
      expect(first.created_organization).toBe(true);
      expect(first.org_slug).toBe('acme');
    });

    it('running it again finds the organization and issues another credential', () => {
      expect(second.org_id).toBe(first.org_id);
      expect(second.created_organization).toBe(false);
      expect(second.admin_account_id).toBe(first.admin_account_id);
      expect(second.client_id).not.toBe(first.client_id);
      expect(second.client_secret).not.toBe(first.client_secret);
    });

    it('stores only bcrypt hashes: no secret in any credentials column (or the audit trail)', async () => {
      const handle = await openDatabase(database);
      try {
        const rows = await handle.db.selectFrom('credentials').selectAll().execute();
        expect(rows.length).toBeGreaterThanOrEqual(2);
        for (const [row, output] of [
          [rows.find((r) => r.client_id === first.client_id), first],
          [rows.find((r) => r.client_id === second.client_id), second],
        ] as const) {
          expect(row).toBeDefined();
          expect(row!.org_id).toBe(output.org_id);
          expect(row!.service_account_id).toBe(output.admin_account_id);
          expect(row!.type).toBe('oauth_client');
          expect(row!.secret_hash).toMatch(/^\$2b\$/);
          expect(await bcrypt.compare(output.client_secret, row!.secret_hash!)).toBe(true);
        }
        const everything = JSON.stringify(rows);
        for (const output of [first, second]) {
          expect(everything).not.toContain(output.client_secret);
          // Not even the secret without its prefix, nor its random part.
          expect(everything).not.toContain(output.client_secret.slice(5, 45));
          for (const row of rows) {
            for (const [column, value] of Object.entries(row)) {
              expect(JSON.stringify(value) ?? '', column).not.toContain(output.client_secret.slice(5, 45));
            }
          }
        }
        const audit = JSON.stringify(await handle.db.selectFrom('audit_events').selectAll().execute());
        for (const output of [first, second]) expect(audit).not.toContain(output.client_secret.slice(5, 45));
      } finally {
        await handle.close();
      }
    });

    it('without --json prints the secret once, for a human', async () => {
      const result = await svcauth(['bootstrap', '--org', 'acme'], env);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/found organization acme/);
      expect(result.stdout).toMatch(/client_secret: svcs_/);
    });

    it('refuses a bad slug with a one-line message', async () => {
      const result = await svcauth(['bootstrap', '--org', 'Not A Slug', '--json'], env);
      expect(result.code).not.toBe(0);
      expect(result.stdout).toBe('');
      expect(oneLine(result.stderr)).toMatch(/--org/);
    });
  });
}

describe('configuration errors', () => {
  for (const [variable, values] of configErrorCases) {
    // Each case is a process of its own, started with the file: they run side by side.
    it.concurrent(
      `node src/main.ts with ${caseName(values)} exits non-zero with one line naming ${variable}`,
      async () => {
        const result = await configErrorRuns.get(caseName(values))!;
        expect(result.code).not.toBe(0);
        expect(result.code).not.toBeNull();
        expect(oneLine(result.stderr)).toContain(variable);
        // The database URL may hold a password: it is never echoed back.
        if (variable === 'DATABASE_URL') expect(result.stderr).not.toContain('nonsense');
      },
      30_000,
    );
  }

  it('the CLI refuses bad configuration the same way', async () => {
    const result = await svcauth(['bootstrap', '--org', 'acme', '--json'], {
      ...baseEnv(),
      DATABASE_URL: 'nonsense',
      KEYS_DIR: path.join(processesDir, 'config', 'keys'),
    });
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(oneLine(result.stderr)).toContain('DATABASE_URL');
  }, 30_000);
});

describe('svcauth keys generate', () => {
  let workDir: string;

  beforeAll(() => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-keys-'));
  });

  afterAll(() => {
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('refuses to run twice without --force, and keeps the existing keys', async () => {
    const env = { ...baseEnv(), KEYS_DIR: path.join(workDir, 'keys') };
    const file = path.join(workDir, 'keys', 'signing-keys.json');
    const created = await svcauth(['keys', 'generate'], env);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('signing-keys.json');
    const original = fs.readFileSync(file, 'utf8');

    const again = await svcauth(['keys', 'generate'], env);
    expect(again.code).not.toBe(0);
    expect(oneLine(again.stderr)).toMatch(/already holds signing keys/);
    expect(fs.readFileSync(file, 'utf8')).toBe(original);

    const forced = await svcauth(['keys', 'generate', '--force'], env);
    expect(forced.code, forced.stderr).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).not.toBe(original);
  }, 60_000);
});

describe('the embedded database is one process at a time', () => {
  let env: NodeJS.ProcessEnv;
  let server: ChildProcess;
  let serverExit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let serverUrl: string;
  let admin: BootstrapOutput;

  beforeAll(async () => {
    ({ env, admin, server, serverExit, serverUrl } = await embeddedServer);
  }, 120_000);

  it('the server started on the bootstrapped data serves tokens for the bootstrap credential', async () => {
    const response = await fetch(`${serverUrl}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${admin.client_id}:${admin.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${ISSUER}/admin` }),
    });
    const body = (await response.json()) as { access_token: string };
    expect(response.status, JSON.stringify(body)).toBe(200);
    const jwks = (await (await fetch(`${serverUrl}/jwks`)).json()) as JSONWebKeySet;
    const { payload } = await jwtVerify(body.access_token, createLocalJWKSet(jwks), {
      issuer: ISSUER,
      audience: `${ISSUER}/admin`,
      typ: 'at+jwt',
    });
    expect(payload.sub).toBe(admin.admin_account_id);
    expect(payload.org_id).toBe(admin.org_id);
    expect((payload.permissions as Record<string, string[]>)['*']).toContain('service_accounts:write');
  });

  it('while the server holds DATA_DIR, the CLI fails with a clear "in use" message', async () => {
    const result = await svcauth(['bootstrap', '--org', 'acme', '--json'], env);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    const message = oneLine(result.stderr);
    expect(message).toMatch(/in use by process \d+/);
    expect(message).toContain(String(server.pid));
    expect(message).toContain('DATABASE_URL');
  }, 60_000);

  it('a second server on the same DATA_DIR refuses to start, with the same message', async () => {
    const result = await run(['src/main.ts'], env);
    expect(result.code).not.toBe(0);
    expect(oneLine(result.stderr)).toMatch(/in use by process \d+/);
  }, 60_000);

  it('SIGTERM stops the server cleanly (exit 0) and releases DATA_DIR', async () => {
    server.kill('SIGTERM');
    expect(await serverExit).toEqual({ code: 0, signal: null });
    const result = await svcauth(['bootstrap', '--org', 'acme', '--json'], env);
    expect(parseBootstrap(result).org_id).toBe(admin.org_id);
  }, 60_000);
});
