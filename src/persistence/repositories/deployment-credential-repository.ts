import type { Kysely } from 'kysely';
import type { Database, DeploymentCredential } from '../schema.ts';

export type DeploymentCredentialKind = DeploymentCredential['kind'];

/** Resource servers' and operators' credentials made through the platform API (migration 0015). */
export class DeploymentCredentialRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  create(input: {
    kind: DeploymentCredentialKind;
    name: string;
    secretSha256: Buffer;
    operator: string;
  }): Promise<DeploymentCredential> {
    return this.#db
      .insertInto('deployment_credentials')
      .values({
        kind: input.kind,
        name: input.name,
        secret_sha256: input.secretSha256,
        created_by_operator: input.operator,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Every credential of a kind, live first, then the revoked ones, newest first. */
  list(kind: DeploymentCredentialKind): Promise<DeploymentCredential[]> {
    return this.#db
      .selectFrom('deployment_credentials')
      .selectAll()
      .where('kind', '=', kind)
      .orderBy((eb) => eb('revoked_at', 'is', null), 'desc')
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .execute();
  }

  /** The live credentials of every kind: what authentication compares against. */
  listLive(): Promise<Array<Pick<DeploymentCredential, 'kind' | 'name' | 'secret_sha256'>>> {
    return this.#db
      .selectFrom('deployment_credentials')
      .select(['kind', 'name', 'secret_sha256'])
      .where('revoked_at', 'is', null)
      .execute();
  }

  findById(kind: DeploymentCredentialKind, id: string): Promise<DeploymentCredential | undefined> {
    return this.#db
      .selectFrom('deployment_credentials')
      .selectAll()
      .where('kind', '=', kind)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** Revokes a live credential; undefined when it is unknown or already revoked. */
  revoke(
    kind: DeploymentCredentialKind,
    id: string,
    operator: string,
  ): Promise<DeploymentCredential | undefined> {
    return this.#db
      .updateTable('deployment_credentials')
      .set({ revoked_at: new Date(), revoked_by_operator: operator })
      .where('kind', '=', kind)
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
  }
}
