import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { errors as joseErrors, type JWTPayload, jwtVerify } from 'jose';
import { z } from 'zod';
import type { TokenExchangeConfig } from '../config/index.ts';
import {
  notManagementPermissions,
  personManagementPermissions,
  SERVICE_ACCOUNT_LEVELS,
  type ServiceAccountLevel,
  subjectTokenLifetimeProblem,
} from '../domain/delegation.ts';
import { isSingleLineText } from '../domain/text.ts';
import { JwksCache } from '../resource-server/jwks.ts';
import type { StateStore } from '../state/state-store.ts';
import { CLIENT_ASSERTION_ALGS, CLOCK_TOLERANCE_SECONDS } from './client-authentication.ts';
import { looksLikeJwt } from './access-token-verifier.ts';

/** Who the product says the person is and what they may administer, from a verified subject token. */
export interface SubjectPerson {
  /** The person's id in the product (the subject token's `sub`). */
  personId: string;
  displayName: string;
  email: string | null;
  /** The product's tenant id of the organization the person administers. */
  tenantId: string;
  /** Management permissions the person holds (explicit ones and those of the service-account level). */
  management: string[];
  groupsAdmin: boolean;
  /** Roles (ids or names) the person may grant; null: no list, they grant what they hold. */
  grantableRoles: string[] | null;
  /** RFC 8693 4.4 `may_act`: when present, only this client may act for the person. */
  mayActClientId: string | null;
  /** For the single-use record, after every other check has passed. */
  jti: string;
  exp: number;
}

export type SubjectTokenCheck = { ok: true; person: SubjectPerson } | { ok: false; reason: string };

const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine(isSingleLineText, 'must be a single line of text without control characters');

/**
 * The claims svcauth reads. `sub` is printable ASCII without spaces (it becomes part of the issued
 * token's `sub` and of audit rows); names and e-mail addresses are single lines of text.
 */
const claimsSchema = z.object({
  sub: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  jti: z.string().min(1).max(256),
  iat: z.number().finite(),
  exp: z.number().finite(),
  tenant_id: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  name: printable(200).optional(),
  email: printable(320).optional(),
  permissions: z.array(z.string().max(100)).max(50).optional(),
  service_accounts_level: z.enum(Object.keys(SERVICE_ACCOUNT_LEVELS) as [ServiceAccountLevel]).optional(),
  groups_admin: z.boolean().optional(),
  grantable_roles: z.array(printable(200)).max(100).optional(),
  may_act: z
    .object({ sub: z.string().min(1).max(200) })
    .loose()
    .optional(),
});

/**
 * Checks the product's subject tokens: signature by a key of the product's JWK set (a URL fetched and
 * re-fetched like the resource-server kit's, or a file re-read the same way), an asymmetric algorithm,
 * the configured issuer and audience, a current `exp`, a short lifetime, and the claims svcauth reads.
 * `consume` then records its `jti` as used, in the shared state store, so a subject token is exchanged
 * once across every instance.
 */
export class SubjectTokenVerifier {
  readonly #config: TokenExchangeConfig;
  readonly #keys: JwksCache;
  readonly #state: StateStore;

  constructor(config: TokenExchangeConfig, state: StateStore, onError: (error: Error) => void) {
    this.#config = config;
    this.#state = state;
    const source = config.jwks;
    this.#keys =
      source.kind === 'url'
        ? new JwksCache({
            url: source.url,
            fetch: (input, init) => fetch(input, init),
            timeoutMs: 5_000,
            refreshIntervalMs: 30_000,
            maxAgeMs: 5 * 60_000,
            onError,
          })
        : new JwksCache({
            // The file is read the way a URL is fetched: a new kid re-reads it (at most every 2 s),
            // and a copy older than 30 s is read again, so a rotated key file is picked up.
            url: source.path,
            fetch: async () => new Response(await readFile(source.path)),
            timeoutMs: 5_000,
            refreshIntervalMs: 2_000,
            maxAgeMs: 30_000,
            onError,
          });
  }

  /** Loads the product's keys once (start-up): a misconfigured source is reported, not fatal. */
  async warm(): Promise<void> {
    await this.#keys.load();
  }

  async verify(token: string, now: number = Date.now() / 1000): Promise<SubjectTokenCheck> {
    if (!looksLikeJwt(token)) return refused('the subject_token is not a JWT (compact JWS)');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keys.getKey, {
        issuer: this.#config.subjectTokenIssuer,
        audience: this.#config.subjectTokenAudience,
        algorithms: CLIENT_ASSERTION_ALGS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'iat', 'jti', 'sub'],
        currentDate: new Date(now * 1000),
      }));
    } catch (error) {
      return refused(subjectTokenRefusal(error, this.#config));
    }
    const parsed = claimsSchema.safeParse(payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return refused(`the subject token's ${issue.path.join('.') || 'claims'} ${issue.message}`);
    }
    const claims = parsed.data;
    const lifetime = subjectTokenLifetimeProblem(
      claims,
      now,
      this.#config.maxSubjectTokenLifetimeSeconds,
      CLOCK_TOLERANCE_SECONDS,
    );
    if (lifetime) return refused(lifetime);
    const foreign = notManagementPermissions(claims.permissions ?? []);
    if (foreign.length > 0) {
      return refused(
        `the subject token's permissions name ${foreign.slice(0, 10).join(', ')}, which are not management permissions`,
      );
    }
    return {
      ok: true,
      person: {
        personId: claims.sub,
        displayName: claims.name ?? claims.sub,
        email: claims.email ?? null,
        tenantId: claims.tenant_id,
        management: personManagementPermissions({
          permissions: claims.permissions ?? [],
          serviceAccountLevel: claims.service_accounts_level ?? null,
        }),
        groupsAdmin: claims.groups_admin === true,
        grantableRoles: claims.grantable_roles ?? null,
        mayActClientId: claims.may_act?.sub ?? null,
        jti: claims.jti,
        exp: claims.exp,
      },
    };
  }

  /**
   * Records the subject token as used; false when it was already (a replay). The marker lives as long
   * as the token could be accepted, in the state store shared by every instance; its key is a digest,
   * so nothing the product sent ends up in a key name.
   */
  consume(person: Pick<SubjectPerson, 'jti' | 'exp'>, now: number = Date.now() / 1000): Promise<boolean> {
    const id = createHash('sha256')
      .update(JSON.stringify([this.#config.subjectTokenIssuer, person.jti]))
      .digest('base64url');
    const ttl = Math.max(1, Math.ceil(person.exp - now) + CLOCK_TOLERANCE_SECONDS);
    return this.#state.setIfAbsent(`subject-jti:${id}`, '1', ttl);
  }
}

function refused(reason: string): SubjectTokenCheck {
  return { ok: false, reason };
}

/** Why jose refused the token, as a sentence for the delegating client (it holds the token anyway). */
function subjectTokenRefusal(error: unknown, config: TokenExchangeConfig): string {
  if (error instanceof joseErrors.JWTExpired) return 'the subject token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'iss':
        return `the subject token's iss must be ${config.subjectTokenIssuer}`;
      case 'aud':
        return `the subject token's aud must include ${config.subjectTokenAudience}`;
      case 'nbf':
        return 'the subject token is not valid yet (nbf)';
      default:
        return `the subject token lacks a valid ${error.claim} claim (exp, iat, jti and sub are required)`;
    }
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) {
    return `the subject token's alg is not accepted; sign with one of ${CLIENT_ASSERTION_ALGS.join(', ')}`;
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey) {
    return "no key of the product's key set matches the subject token (kid)";
  }
  // A bad signature, a malformed token, an unreachable key set: the same refusal, nothing more.
  return "the subject token signature could not be verified with the product's keys";
}
