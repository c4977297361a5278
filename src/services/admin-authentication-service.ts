import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { MANAGEMENT_PERMISSIONS } from '../../config/permissions.ts';
import { AuthenticationError } from '../domain/errors.ts';
import { ALL_LOCATIONS } from '../domain/permissions.ts';
import { issuedTokenRefusal } from '../domain/token-eligibility.ts';
import type { KeyRing } from '../keys/key-ring.ts';
import { AccessTokenVerifier, type TokenAudiences } from '../oauth/access-token-verifier.ts';
import { checkDpopProof, type DpopRequest, ProofReplayCache } from '../resource-server/dpop.ts';
import { AuditRepository } from '../persistence/repositories/audit-repository.ts';
import { CredentialRepository } from '../persistence/repositories/credential-repository.ts';
import { RevocationRepository } from '../persistence/repositories/revocation-repository.ts';
import type { Database } from '../persistence/schema.ts';
import type { CachedSubjectResolver } from '../cache/cached-subject-resolver.ts';
import { currentSubjectFor } from './token-subject-service.ts';
import { PERSON_SUBJECT_PREFIX, personIdOf } from '../domain/delegation.ts';
import { type PersonActor, recordAudit } from './admin-actor.ts';
import type { DelegationLookup } from './delegation-service.ts';

/** Who an admin-API request acts as: a service account (and credential), or a person of the product. */
export type AdminPrincipal = ServiceAccountPrincipal | PersonPrincipal;

export interface ServiceAccountPrincipal {
  kind: 'service_account';
  orgId: string;
  accountId: string;
  credentialId: string;
  accountName: string;
  /** Management permissions from the token's org-wide grants. */
  management: ReadonlySet<string>;
  groupsAdmin: boolean;
}

/** A person, through a management token the product obtained for them by token exchange. */
export interface PersonPrincipal {
  kind: 'person';
  orgId: string;
  personId: string;
  displayName: string;
  email: string | null;
  /** The delegating client (act.sub). */
  clientId: string;
  /** The token's management permissions, within what the delegating client may still hand on. */
  management: ReadonlySet<string>;
  groupsAdmin: boolean;
  grantableRoles: readonly string[] | null;
}

const MANAGEMENT = new Set<string>(MANAGEMENT_PERMISSIONS);

/** What the management API reads from a verified token, beyond what every svcauth token carries. */
const personClaimsSchema = z.object({
  sub: z.string().startsWith(PERSON_SUBJECT_PREFIX).max(250),
  client_id: z.string().min(1),
  act: z.object({ sub: z.string().min(1) }).loose(),
  org_id: z.uuid(),
  permissions: z.record(z.string(), z.array(z.string())),
  name: z.string().min(1).max(200),
  email: z.string().max(320).optional(),
  jti: z.string(),
  cnf: z.object({ jkt: z.string().optional() }).loose().optional(),
  groups_admin: z.boolean().optional(),
  grantable_roles: z.array(z.string().max(200)).max(100).optional(),
});

const claimsSchema = z.object({
  sub: z.uuid(),
  client_id: z.string().min(1),
  org_id: z.uuid(),
  permissions: z.record(z.string(), z.array(z.string())),
  permissions_version: z.number().int().positive(),
  secret_version: z.number().int().positive().optional(),
  jti: z.string().optional(),
  cnf: z.object({ jkt: z.string().optional() }).loose().optional(),
  groups_admin: z.boolean().optional(),
});

/**
 * The management API dogfoods svcauth: its callers hold access tokens from /token for the admin
 * audience. A token is checked locally against the server's own published keys, then against its
 * credential's current state, because the token alone cannot know that its credential was revoked or
 * that its account was edited (its permissions_version is then older than the account's) since it was
 * issued. That state comes from the same token subject resolver /token uses (cached, dropped by change
 * events) and is judged by the same rule (domain/token-eligibility.ts).
 */
export class AdminAuthenticationService {
  readonly #db: Kysely<Database>;
  readonly #subjects: Pick<CachedSubjectResolver, 'findByClientId'>;
  readonly #tokens: AccessTokenVerifier;
  readonly #config: TokenAudiences;
  readonly #proofReplay: ProofReplayStore;
  readonly #delegations: DelegationLookup;

  constructor(deps: {
    db: Kysely<Database>;
    subjects: Pick<CachedSubjectResolver, 'findByClientId'>;
    keyRing: KeyRing;
    config: TokenAudiences;
    /** Whether a person's delegating client may still delegate (token exchange). */
    delegations: DelegationLookup;
    /** Where DPoP proof ids are remembered (the shared state store: a proof is used once, cluster-wide). */
    proofReplay?: ProofReplayStore;
  }) {
    this.#proofReplay = deps.proofReplay ?? inProcessProofReplay();
    this.#delegations = deps.delegations;
    this.#db = deps.db;
    this.#subjects = deps.subjects;
    // The verification /introspect and /revoke apply (keys, algorithms, typ, issuer, clock tolerance).
    this.#tokens = new AccessTokenVerifier(deps.keyRing, deps.config);
    this.#config = deps.config;
  }

  /** Throws AuthenticationError with a reason safe to show the caller. */
  async authenticate(
    token: string,
    context: { sourceIp: string | null; requestId: string | null },
    presentation: TokenPresentation = { scheme: 'bearer' },
  ): Promise<AdminPrincipal> {
    const payload = await this.#verify(token);
    if (typeof payload.sub === 'string' && personIdOf(payload.sub) !== null) {
      const person = personClaimsSchema.safeParse(payload);
      if (!person.success) throw invalidToken('the access token lacks the claims of an svcauth access token');
      await this.#checkBinding(token, person.data.cnf?.jkt ?? null, presentation);
      return this.#authenticatePerson(person.data, context);
    }
    const parsed = claimsSchema.safeParse(payload);
    if (!parsed.success) throw invalidToken('the access token lacks the claims of an svcauth access token');
    const claims = parsed.data;
    await this.#checkBinding(token, claims.cnf?.jkt ?? null, presentation);
    const subject = await this.#subjects.findByClientId(claims.client_id);
    const refusal =
      issuedTokenRefusal(
        {
          orgId: claims.org_id,
          accountId: claims.sub,
          permissionsVersion: claims.permissions_version,
          secretVersion: claims.secret_version,
        },
        currentSubjectFor(subject, 'management'),
      ) ??
      // Revoked by its client through POST /revoke (RFC 7009).
      (claims.jti && (await new RevocationRepository(this.#db).isTokenRevoked(claims.jti))
        ? 'the access token has been revoked'
        : null);
    if (refusal) {
      // The signature proved who is asking, so the failure belongs to that organization's audit trail.
      const credentialId =
        subject?.credential.id ?? (await this.#credentialIdOf(claims.client_id, claims.org_id));
      await new AuditRepository(this.#db).record({
        orgId: claims.org_id,
        action: 'admin_api.authentication_failed',
        outcome: 'failure',
        actorAccountId: claims.sub,
        actorCredentialId: credentialId,
        targetType: 'credential',
        targetId: credentialId ?? claims.client_id,
        diff: { reason: refusal },
        sourceIp: context.sourceIp,
        requestId: context.requestId,
      });
      throw invalidToken(refusal);
    }
    const management = new Set((claims.permissions[ALL_LOCATIONS] ?? []).filter((p) => MANAGEMENT.has(p)));
    return {
      kind: 'service_account',
      orgId: claims.org_id,
      accountId: claims.sub,
      credentialId: subject!.credential.id,
      accountName: subject!.account.name,
      management,
      groupsAdmin: claims.groups_admin === true,
    };
  }

  /**
   * A person's token stays good only while everything it was issued on still holds: the delegating
   * client can still obtain management tokens (not revoked, its account and organization usable), the
   * platform operator still allows it to delegate (and at most what it allows now), the person's
   * organization is active, and the token was not revoked through /revoke.
   */
  async #authenticatePerson(
    claims: z.infer<typeof personClaimsSchema>,
    context: { sourceIp: string | null; requestId: string | null },
  ): Promise<PersonPrincipal> {
    const principal: PersonPrincipal = {
      kind: 'person',
      orgId: claims.org_id,
      personId: personIdOf(claims.sub)!,
      displayName: claims.name,
      email: claims.email ?? null,
      clientId: claims.client_id,
      management: new Set((claims.permissions[ALL_LOCATIONS] ?? []).filter((p) => MANAGEMENT.has(p))),
      groupsAdmin: claims.groups_admin === true,
      grantableRoles: claims.grantable_roles ?? null,
    };
    const refusal = await this.#personRefusal(claims, principal);
    if (typeof refusal === 'string') {
      await recordAudit(this.#db, personActor(principal, context), {
        action: 'admin_api.authentication_failed',
        outcome: 'failure',
        targetType: 'person',
        targetId: principal.personId,
        diff: { reason: refusal },
      });
      throw invalidToken(refusal);
    }
    return { ...principal, management: refusal };
  }

  /** Why the person's token is refused now, or the management permissions it may still use. */
  async #personRefusal(
    claims: z.infer<typeof personClaimsSchema>,
    principal: PersonPrincipal,
  ): Promise<string | ReadonlySet<string>> {
    if (claims.act.sub !== claims.client_id) return 'the access token names two different clients';
    const judged = await this.#delegations.personTokenStanding(
      { clientId: claims.client_id, orgId: claims.org_id, management: principal.management },
      this.#subjects,
    );
    if (!judged.ok) return judged.reason;
    if (await new RevocationRepository(this.#db).isTokenRevoked(claims.jti)) {
      return 'the access token has been revoked';
    }
    return judged.management;
  }

  /**
   * The credential a refused token was issued to, for the audit row: the resolver answers nothing for a
   * revoked or expired credential, whose row still exists. Only on this failure path.
   */
  async #credentialIdOf(clientId: string, orgId: string): Promise<string | null> {
    const found = await new CredentialRepository(this.#db).findWithOwnerByClientId(clientId);
    return found?.credential.org_id === orgId ? found.credential.id : null;
  }

  /**
   * RFC 9449: a token bound to a key (cnf.jkt) is only accepted with the DPoP scheme and a proof of
   * that key for this request, used once; an unbound token only with the Bearer scheme.
   */
  async #checkBinding(token: string, jkt: string | null, presentation: TokenPresentation): Promise<void> {
    if (presentation.scheme === 'bearer') {
      if (jkt) {
        throw dpopRefusal(
          'the access token is bound to a key (DPoP): send it as "Authorization: DPoP <token>" with a DPoP proof',
        );
      }
      return;
    }
    if (!jkt)
      throw invalidToken('the access token is not DPoP-bound; send it as "Authorization: Bearer <token>"');
    const checked = await checkDpopProof(presentation.request, token, jkt, {
      clockToleranceSeconds: DPOP_CLOCK_TOLERANCE_SECONDS,
    });
    if (!checked.ok) throw dpopRefusal(checked.reason, 'invalid_dpop_proof');
    const ttl = Math.max(1, checked.expiresAt - Math.floor(Date.now() / 1000));
    // The key is a digest: proof ids are client-chosen text.
    const key = `dpop:jti:${createHash('sha256').update(`${jkt}:${checked.jti}`).digest('base64url')}`;
    if (!(await this.#proofReplay.setIfAbsent(key, '1', ttl))) {
      throw dpopRefusal(
        'the DPoP proof was already used; make a new proof for each request',
        'invalid_dpop_proof',
      );
    }
  }

  async #verify(token: string): Promise<Record<string, unknown>> {
    const checked = await this.#tokens.check(token, this.#config.adminAudience);
    if (!checked.ok) {
      switch (checked.reason) {
        case 'expired':
          throw invalidToken('the access token has expired');
        case 'audience':
          throw invalidToken(
            `the access token is not for this API; request one with resource=${this.#config.adminAudience}`,
          );
        case 'claims':
          throw invalidToken('the access token lacks the claims of an svcauth access token');
        case 'invalid':
          throw invalidToken('the access token is not valid');
      }
    }
    return checked.claims.payload;
  }
}

function invalidToken(reason: string): AuthenticationError {
  return new AuthenticationError(reason);
}

/** A refusal about DPoP: the HTTP layer answers it with a DPoP challenge first. */
function dpopRefusal(
  reason: string,
  error: 'invalid_token' | 'invalid_dpop_proof' = 'invalid_token',
): AuthenticationError {
  return new AuthenticationError(reason, { dpop: true, error });
}

const DPOP_CLOCK_TOLERANCE_SECONDS = 5;

/** How the token was presented: `Authorization: Bearer`, or `Authorization: DPoP` with the request it proves. */
export type TokenPresentation = { scheme: 'bearer' } | { scheme: 'dpop'; request: DpopRequest };

export interface ProofReplayStore {
  /** True when the key was absent (and is now set), false when it was there: a replay. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
}

function inProcessProofReplay(): ProofReplayStore {
  const cache = new ProofReplayCache();
  return {
    setIfAbsent: async (key, _value, ttlSeconds) => {
      const now = Math.floor(Date.now() / 1000);
      return cache.remember(key, now + ttlSeconds, now);
    },
  };
}

/** The person as an actor of the audit trail (a refused token is audited in their organization). */
export function personActor(
  principal: PersonPrincipal,
  context: { sourceIp: string | null; requestId: string | null },
): PersonActor {
  return {
    kind: 'person',
    orgId: principal.orgId,
    personId: principal.personId,
    displayName: principal.displayName,
    email: principal.email,
    clientId: principal.clientId,
    management: principal.management,
    groupsAdmin: principal.groupsAdmin,
    grantableRoles: principal.grantableRoles,
    sourceIp: context.sourceIp,
    requestId: context.requestId,
  };
}
