import fs from 'node:fs';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { type Config, ConfigError, loadConfig, type SigningAlg } from '../config/index.ts';
import { DEFAULT_ACTIVATE_IN_SECONDS } from '../keys/key-ring.ts';
import {
  generateSigningKeys,
  KeyFileError,
  rotateSigningKeys,
  signingKeysPath,
} from '../keys/signing-keys.ts';
import {
  type DeploymentSecretPrefix,
  generateDeploymentSecret,
  OPERATOR_SECRET_PREFIX,
  RESOURCE_SERVER_SECRET_PREFIX,
  resourceServerEntry,
} from '../domain/credential-format.ts';
import { DataDirectoryInUseError, migrateToLatest, openDatabase } from '../persistence/database.ts';
import { OrganizationRepository } from '../persistence/repositories/organization-repository.ts';
import { bootstrapOrganization } from '../services/bootstrap-service.ts';
import { LegacyKeyImportService, legacyKeyImportSchema } from '../services/legacy-key-import-service.ts';
import { loadLegacyKeyIdSecrets } from '../keys/legacy-key-id-secret.ts';
import { SecretHasher } from '../keys/secret-hasher.ts';

const USAGE = `usage: svcauth <command> [options]

commands:
  migrate                                  apply database migrations
  keys generate [--alg ES256|EdDSA|RS256] [--force]
                                           write the first signing key set into KEYS_DIR
  keys rotate [--alg ...] [--activate-in SECONDS]
                                           publish a new signing key now, sign with it after SECONDS
                                           (default 30), retire the old one after the longest token lifetime
  bootstrap --org SLUG [--name NAME] [--json]
                                           create the organization if absent and an admin credential;
                                           prints its client id and secret once
  import-legacy-keys FILE --org SLUG [--json]
                                           import legacy API keys (JSON: {"keys": [{key, name, ...}]}) as
                                           service accounts whose credential accepts the old key unchanged;
                                           safe to run again (rows already imported are reported as such)
  resource-server-credential --name NAME [--json]
                                           make a secret for a resource server (for /introspect and
                                           /revocations); prints it once with its RESOURCE_SERVERS entry
  operator-credential --name NAME [--json]  make a secret for a platform operator (for /platform/v1);
                                           prints it once with its OPERATORS entry

Configuration comes from the environment (see README): DATABASE_URL or DATA_DIR, KEYS_DIR, ...`;

/** A refusal the CLI prints as one line on stderr before exiting non-zero. */
class UsageError extends Error {}

const SIGNING_ALGS = new Set(['ES256', 'EdDSA', 'RS256']);

/** Where a command writes and what environment it is configured from: the process's, or a test's. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
}

/**
 * Runs one command and returns its exit code: 0, 1 (it failed, or a row could not be imported),
 * 64 (usage), 78 (configuration). Refusals are one line on stderr; nothing here exits the process.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  try {
    return (await dispatch(argv, io)) ?? 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr.write(`svcauth: configuration error: ${error.message}\n`);
      return 78;
    }
    if (
      error instanceof UsageError ||
      error instanceof KeyFileError ||
      error instanceof DataDirectoryInUseError
    ) {
      io.stderr.write(`svcauth: ${error.message}\n`);
      return error instanceof UsageError ? 64 : 1;
    }
    io.stderr.write(`svcauth: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

async function dispatch(argv: string[], io: CliIo): Promise<number | void> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = loadConfig(io.env);
  switch (command) {
    case 'migrate':
      return migrate(config, rest, io);
    case 'keys':
      return keys(config, rest, io);
    case 'bootstrap':
      return bootstrap(config, rest, io);
    case 'import-legacy-keys':
      return importLegacyKeys(config, rest, io);
    case 'resource-server-credential':
      return deploymentCredential(rest, io, RESOURCE_SERVER_KIND);
    case 'operator-credential':
      return deploymentCredential(rest, io, OPERATOR_KIND);
    default:
      throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  }
}

async function withDatabase<T>(
  config: Config,
  work: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>,
) {
  const database = await openDatabase(config.database);
  try {
    return await work(database);
  } finally {
    await database.close();
  }
}

async function migrate(config: Config, args: string[], io: CliIo): Promise<void> {
  parse(args, {});
  const applied = await withDatabase(config, (database) => migrateToLatest(database.db));
  io.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database schema is up to date\n');
}

async function keys(config: Config, args: string[], io: CliIo): Promise<void> {
  const [action, ...rest] = args;
  if (action === 'generate') {
    const { values } = parse(rest, { alg: { type: 'string' }, force: { type: 'boolean' } });
    const key = await generateSigningKeys(config.keysDir, signingAlg(values.alg, config), {
      force: Boolean(values.force),
    });
    io.stdout.write(`wrote ${signingKeysPath(config.keysDir)}: ${key.alg} key ${key.kid}\n`);
    return;
  }
  if (action === 'rotate') {
    const { values } = parse(rest, { alg: { type: 'string' }, 'activate-in': { type: 'string' } });
    const activateIn =
      values['activate-in'] === undefined ? DEFAULT_ACTIVATE_IN_SECONDS : Number(values['activate-in']);
    if (!Number.isInteger(activateIn) || activateIn < 0 || activateIn > 86400) {
      throw new UsageError('--activate-in must be a whole number of seconds from 0 to 86400');
    }
    const result = await rotateSigningKeys(config.keysDir, signingAlg(values.alg, config), {
      activateInSeconds: activateIn,
    });
    io.stdout.write(
      `published ${result.added.alg} key ${result.added.kid}; it signs from ${result.added.activates_at}\n` +
        (result.retiring.length
          ? `retiring ${result.retiring.join(', ')} after the longest token lifetime\n`
          : '') +
        (result.dropped.length ? `dropped ${result.dropped.join(', ')}\n` : ''),
    );
    return;
  }
  throw new UsageError('usage: svcauth keys generate|rotate [options]');
}

async function bootstrap(config: Config, args: string[], io: CliIo): Promise<void> {
  const { values } = parse(args, {
    org: { type: 'string' },
    name: { type: 'string' },
    json: { type: 'boolean' },
  });
  const slug = values.org;
  if (!slug || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(slug)) {
    throw new UsageError(
      '--org must be a slug: lowercase letters, digits and dashes, starting with a letter or digit',
    );
  }
  const result = await withDatabase(config, async (database) => {
    await migrateToLatest(database.db);
    return bootstrapOrganization(database.db, new SecretHasher(config.bcryptCost), {
      slug,
      ...(values.name ? { name: values.name } : {}),
    });
  });
  if (values.json) {
    io.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  io.stdout.write(
    `${result.created_organization ? 'created' : 'found'} organization ${result.org_slug} (${result.org_id})\n` +
      `admin service account: ${result.admin_account_id}\n` +
      `client_id:     ${result.client_id}\n` +
      `client_secret: ${result.client_secret}\n` +
      'The secret is shown once and stored only as a bcrypt hash: keep it now.\n',
  );
}

async function importLegacyKeys(config: Config, args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, { org: { type: 'string' }, json: { type: 'boolean' } }, true);
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0 || !values.org) {
    throw new UsageError('usage: svcauth import-legacy-keys FILE --org SLUG [--json]');
  }
  let parsedFile: unknown;
  try {
    parsedFile = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read ${file} as JSON: ${(error as Error).message}`);
  }
  const input = legacyKeyImportSchema.safeParse(parsedFile);
  if (!input.success) {
    const problems = input.error.issues.map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : '(file)';
      const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
      return `${where}: ${issue.message}${keys}`;
    });
    throw new UsageError(`${file} is not a legacy key import:\n  ${problems.join('\n  ')}`);
  }
  const slug = values.org;
  const report = await withDatabase(config, async (database) => {
    await migrateToLatest(database.db);
    const organization = await new OrganizationRepository(database.db).findBySlug(slug);
    if (!organization) {
      throw new UsageError(
        `no organization "${slug}"; create it first with "svcauth bootstrap --org ${slug}"`,
      );
    }
    // The same secret as the server (LEGACY_KEY_ID_SECRET, or the one generated in KEYS_DIR).
    return new LegacyKeyImportService(database.db, new SecretHasher(config.bcryptCost), {
      legacyKeyIdSecrets: loadLegacyKeyIdSecrets(config),
    }).import({ kind: 'operator', orgId: organization.id }, input.data.keys);
  });
  // A row that could not be imported makes the command fail, so scripts notice; the report says which.
  const exitCode = report.summary.failed > 0 ? 1 : 0;
  if (values.json) {
    io.stdout.write(`${JSON.stringify(report)}\n`);
    return exitCode;
  }
  for (const row of report.results) {
    const detail =
      row.status === 'failed'
        ? `${row.error!.code}: ${row.error!.message}`
        : `service account ${row.service_account_id}, credential ${row.credential_id}`;
    io.stdout.write(`#${row.index} ${row.name}: ${row.status} (${detail})\n`);
  }
  const { imported, already_imported, failed } = report.summary;
  io.stdout.write(`imported ${imported}, already imported ${already_imported}, failed ${failed}\n`);
  return exitCode;
}

interface DeploymentCredentialKind {
  prefix: DeploymentSecretPrefix;
  /** Who holds it, as the output says it. */
  holder: string;
  variable: 'RESOURCE_SERVERS' | 'OPERATORS';
  /** The JSON field of the entry. */
  entryField: string;
  use: string;
}

const RESOURCE_SERVER_KIND: DeploymentCredentialKind = {
  prefix: RESOURCE_SERVER_SECRET_PREFIX,
  holder: 'resource server',
  variable: 'RESOURCE_SERVERS',
  entryField: 'resource_servers_entry',
  use: 'give it to the resource server (HTTP Basic name:secret)',
};

const OPERATOR_KIND: DeploymentCredentialKind = {
  prefix: OPERATOR_SECRET_PREFIX,
  holder: 'operator',
  variable: 'OPERATORS',
  entryField: 'operators_entry',
  use: 'the platform API takes it as HTTP Basic name:secret or "Authorization: Bearer <secret>"',
};

/**
 * A resource server's or an operator's secret, printed once. svcauth keeps only its SHA-256, in
 * RESOURCE_SERVERS or OPERATORS (the deployment's configuration), so nothing is written here.
 */
function deploymentCredential(args: string[], io: CliIo, kind: DeploymentCredentialKind): void {
  const { values } = parse(args, { name: { type: 'string' }, json: { type: 'boolean' } });
  const name = values.name;
  if (!name || !/^[A-Za-z0-9._-]{1,64}$/.test(name)) {
    throw new UsageError(`--name must be 1 to 64 letters, digits or . _ - (the ${kind.holder}'s name)`);
  }
  const secret = generateDeploymentSecret(kind.prefix);
  const entry = resourceServerEntry(name, secret);
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ name, secret, [kind.entryField]: entry })}\n`);
    return;
  }
  const label = `${kind.holder}:`.padEnd(17);
  io.stdout.write(
    `${label}${name}\n` +
      `${'secret:'.padEnd(17)}${secret}\n` +
      `The secret is shown once; ${kind.use}.\n` +
      `Add this entry to ${kind.variable} (comma-separated) on every svcauth instance:\n${entry}\n`,
  );
}

function parse<const O extends ParseArgsOptionsConfig>(args: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function signingAlg(value: string | undefined, config: Config): SigningAlg {
  if (value === undefined) return config.signingAlg;
  if (!SIGNING_ALGS.has(value)) throw new UsageError('--alg must be one of ES256, EdDSA, RS256');
  return value as SigningAlg;
}

/** The `svcauth` process: bin/svcauth.js, or `node src/cli/main.ts`. */
export async function main(): Promise<void> {
  process.exitCode = await run(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  });
}

if (import.meta.main) await main();
