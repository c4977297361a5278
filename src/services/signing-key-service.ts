import type { SigningAlg } from '../config/index.ts';
import { DEFAULT_ACTIVATE_IN_SECONDS } from '../keys/key-ring.ts';
import {
  KeyFileError,
  readSigningKeyFile,
  rotateSigningKeys,
  scheduleAt,
  type StoredSigningKey,
} from '../keys/signing-keys.ts';
import { DomainError } from '../domain/errors.ts';
import type { Kysely } from 'kysely';
import type { Database } from '../persistence/schema.ts';
import { type PlatformOperator, recordPlatformEvent } from './platform-service.ts';

/** The longest a rotated-in key may wait before it signs: a day. */
export const MAX_ACTIVATE_IN_SECONDS = 86_400;

export type SigningKeyState = 'signing' | 'pending' | 'retiring';

export interface SigningKeyView {
  kid: string;
  alg: SigningAlg;
  /** signing: signs new tokens; pending: published, signs from activates_at; retiring: published until retires_at. */
  state: SigningKeyState;
  created_at: string;
  activates_at: string;
  retires_at: string | null;
}

/**
 * The platform API's equivalent of `svcauth keys rotate` and of reading the key file: the same shared
 * file in KEYS_DIR, which every instance polls. Private keys never leave it. Rotations are serialized
 * within an instance; two operators rotating on two instances in the same instant could lose one of the
 * two new keys (the file is rewritten whole), never a key in use.
 */
export class SigningKeyService {
  readonly #db: Kysely<Database>;
  readonly #keysDir: string;
  readonly #defaultAlg: SigningAlg;
  #rotating: Promise<unknown> = Promise.resolve();

  constructor(db: Kysely<Database>, keysDir: string, defaultAlg: SigningAlg) {
    this.#db = db;
    this.#keysDir = keysDir;
    this.#defaultAlg = defaultAlg;
  }

  /** The published keys, as an operator reads them (audited like every platform use). */
  async list(operator: PlatformOperator): Promise<SigningKeyView[]> {
    const keys = this.#published(new Date());
    await recordPlatformEvent(this.#db, operator, 'signing_keys.listed', { query: {} });
    return keys;
  }

  #published(now: Date): SigningKeyView[] {
    const file = readSigningKeyFile(this.#keysDir);
    if (!file) throw new KeyFileError('the signing key file is missing');
    const schedule = scheduleAt(file, now);
    return schedule.published.map((key) => signingKeyView(key, schedule.signing.kid, now));
  }

  /** Publishes a new key now; it signs from `activate_in_seconds` on, and the current ones retire. */
  rotate(
    operator: PlatformOperator,
    input: { alg?: SigningAlg | undefined; activate_in_seconds?: number | undefined },
  ): Promise<{ added: SigningKeyView; keys: SigningKeyView[] }> {
    const activateIn = input.activate_in_seconds ?? DEFAULT_ACTIVATE_IN_SECONDS;
    if (activateIn < DEFAULT_ACTIVATE_IN_SECONDS || activateIn > MAX_ACTIVATE_IN_SECONDS) {
      throw new DomainError(
        'invalid_settings',
        `activate_in_seconds must be between ${DEFAULT_ACTIVATE_IN_SECONDS} (longer than resource servers cache /jwks) and ${MAX_ACTIVATE_IN_SECONDS}`,
        { field: 'activate_in_seconds' },
      );
    }
    const alg = input.alg ?? this.#defaultAlg;
    const run = this.#rotating.then(async () => {
      const result = await rotateSigningKeys(this.#keysDir, alg, { activateInSeconds: activateIn });
      await recordPlatformEvent(this.#db, operator, 'signing_keys.rotated', {
        after: { kid: result.added.kid, alg, activates_at: result.added.activates_at },
        retiring: result.retiring,
        dropped: result.dropped,
      });
      const keys = this.#published(new Date());
      return { added: keys.find((k) => k.kid === result.added.kid)!, keys };
    });
    this.#rotating = run.catch(() => undefined);
    return run;
  }
}

function signingKeyView(key: StoredSigningKey, signingKid: string, now: Date): SigningKeyView {
  const state: SigningKeyState =
    key.kid === signingKid
      ? 'signing'
      : Date.parse(key.activates_at) > now.getTime()
        ? 'pending'
        : 'retiring';
  return {
    kid: key.kid,
    alg: key.alg,
    state,
    created_at: key.created_at,
    activates_at: key.activates_at,
    retires_at: key.retires_at,
  };
}
