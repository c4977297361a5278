import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from '../logging/logger.ts';
import type { Database } from '../persistence/schema.ts';
import type { StateStore } from '../state/state-store.ts';
import { actorSnapshot, type HeldActor, recordAudit } from './admin-actor.ts';

/** At most this many refused attempts of one actor are recorded per window; the rest are counted. */
export const RECORDED_REFUSALS_PER_WINDOW = 10;
export const REFUSAL_WINDOW_SECONDS = 60;

export interface Refusal {
  /** The operation refused (operationId of the route table). */
  operation: string;
  method: string;
  status: number;
  code: string;
  reason: string;
  /** Path parameters of the request (ids in the actor's organization, or made-up ones: never echoed long). */
  params: Readonly<Record<string, string>>;
}

/**
 * Refused management attempts (403 and 409: a missing permission, an escalation, a conflict with the
 * organization's state) go to the actor's own organization's audit trail with the reason, so an
 * organization sees what its admins and people tried and were not allowed.
 *
 * A refusal costs the caller nothing, even a read-only one, so recording each would let any token
 * holder write to the audit table as fast as it can send requests (a refused GET is a write it could
 * not otherwise cause). Each actor therefore gets at most RECORDED_REFUSALS_PER_WINDOW rows per
 * REFUSAL_WINDOW_SECONDS, counted in the shared state store (every instance, one budget); the last
 * recorded row says that more are not recorded, and each one is still logged. Only authenticated
 * actors reach this (an invalid token is refused before), and only in their own organization.
 */
export class RefusedAttemptAudit {
  readonly #db: Kysely<Database>;
  readonly #state: Pick<StateStore, 'increment'>;
  readonly #logger: Logger;

  constructor(db: Kysely<Database>, state: Pick<StateStore, 'increment'>, logger: Logger) {
    this.#db = db;
    this.#state = state;
    this.#logger = logger;
  }

  async record(actor: HeldActor, refusal: Refusal): Promise<void> {
    const snapshot = actorSnapshot(actor);
    // A digest: a person's id is the product's, and key names hold nothing a caller chose.
    const key = `refusals:${createHash('sha256')
      .update(JSON.stringify([actor.orgId, snapshot.kind, snapshot.id]))
      .digest('base64url')}`;
    let attempt: number;
    try {
      attempt = await this.#state.increment(key, REFUSAL_WINDOW_SECONDS);
    } catch (error) {
      // Without the shared count, record (the trail matters more than a bounded flood during an outage).
      this.#logger.warn({ err: error }, 'could not count refused attempts; recording this one');
      attempt = 1;
    }
    if (attempt > RECORDED_REFUSALS_PER_WINDOW) {
      this.#logger.info(
        {
          org_id: actor.orgId,
          actor_kind: snapshot.kind,
          operation: refusal.operation,
          code: refusal.code,
          request_id: actor.requestId,
        },
        'refused management attempt not audited (over the per-actor budget)',
      );
      return;
    }
    await recordAudit(this.#db, actor, {
      action: 'admin_api.refused',
      outcome: 'failure',
      targetType: 'operation',
      targetId: refusal.operation,
      diff: {
        status: refusal.status,
        code: refusal.code,
        reason: refusal.reason.slice(0, 1000),
        method: refusal.method,
        params: refusal.params,
        ...(attempt === RECORDED_REFUSALS_PER_WINDOW
          ? {
              more_not_recorded: `further refusals of this actor within ${REFUSAL_WINDOW_SECONDS} s are not recorded`,
            }
          : {}),
      },
    });
  }
}
