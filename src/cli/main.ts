import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { type Config, ConfigError, loadConfig, type SigningAlg } from '../config/index.ts';
import { KEY_FILE_POLL_MS } from '../keys/key-ring.ts';
import {
  generateSigningKeys,
  KeyFileError,
  rotateSigningKeys,
  signingKeysPath,
} from '../keys/signing-keys.ts';
import { DataDirectoryInUseError, migrateToLatest, openDatabase } from '../persistence/database.ts';
import { bootstrapOrganization } from '../services/bootstrap-service.ts';
import { SecretHasher } from '../services/secret-hasher.ts';

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

Configuration comes from the environment (see README): DATABASE_URL or DATA_DIR, KEYS_DIR, ...`;

/** A refusal the CLI prints as one line on stderr before exiting non-zero. */
class UsageError extends Error {}

const SIGNING_ALGS = new Set(['ES256', 'EdDSA', 'RS256']);
// Longer than two polls of the key file, so every instance publishes a key before any signs with it.
const DEFAULT_ACTIVATE_IN_SECONDS = Math.max(30, Math.ceil((KEY_FILE_POLL_MS * 3) / 1000));

async function run(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = loadConfig();
  switch (command) {
    case 'migrate':
      return migrate(config, rest);
    case 'keys':
      return keys(config, rest);
    case 'bootstrap':
      return bootstrap(config, rest);
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

async function migrate(config: Config, args: string[]): Promise<void> {
  parse(args, {});
  const applied = await withDatabase(config, (database) => migrateToLatest(database.db));
  process.stdout.write(
    applied.length ? `applied: ${applied.join(', ')}\n` : 'database schema is up to date\n',
  );
}

async function keys(config: Config, args: string[]): Promise<void> {
  const [action, ...rest] = args;
  if (action === 'generate') {
    const { values } = parse(rest, { alg: { type: 'string' }, force: { type: 'boolean' } });
    const key = await generateSigningKeys(config.keysDir, signingAlg(values.alg, config), {
      force: Boolean(values.force),
    });
    process.stdout.write(`wrote ${signingKeysPath(config.keysDir)}: ${key.alg} key ${key.kid}\n`);
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
    process.stdout.write(
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

async function bootstrap(config: Config, args: string[]): Promise<void> {
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
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  process.stdout.write(
    `${result.created_organization ? 'created' : 'found'} organization ${result.org_slug} (${result.org_id})\n` +
      `admin service account: ${result.admin_account_id}\n` +
      `client_id:     ${result.client_id}\n` +
      `client_secret: ${result.client_secret}\n` +
      'The secret is shown once and stored only as a bcrypt hash: keep it now.\n',
  );
}

function parse<const O extends ParseArgsOptionsConfig>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function signingAlg(value: string | undefined, config: Config): SigningAlg {
  if (value === undefined) return config.signingAlg;
  if (!SIGNING_ALGS.has(value)) throw new UsageError('--alg must be one of ES256, EdDSA, RS256');
  return value as SigningAlg;
}

try {
  await run(process.argv.slice(2));
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`svcauth: configuration error: ${error.message}`);
    process.exit(78);
  }
  if (
    error instanceof UsageError ||
    error instanceof KeyFileError ||
    error instanceof DataDirectoryInUseError
  ) {
    console.error(`svcauth: ${error.message}`);
    process.exit(error instanceof UsageError ? 64 : 1);
  }
  console.error(`svcauth: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
