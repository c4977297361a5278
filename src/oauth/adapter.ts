import { Provider } from 'oidc-provider';
import type { StateStore } from '../state/state-store.ts';
import { clientMetadataFor, presentsBasicAuth } from './client-metadata.ts';
import { type SubjectResolver, setRequestSubject } from './request-subject.ts';

/**
 * oidc-provider's storage adapter. Clients come from the credential tables (every live oauth_client,
 * api_key and private_key_jwt credential is a client); everything else oidc-provider may want to keep
 * (any short-lived model) lives in the shared state store. Single-use assertion ids do not come here:
 * the client-authentication policy keeps them (SingleUseJwtIds), for /token and /revoke alike.
 */
export function createAdapterFactory(deps: {
  state: StateStore;
  subjects: SubjectResolver;
  /** The grant types the server offers (client metadata may only name those). */
  grantTypes: readonly string[];
}) {
  return (name: string) =>
    name === 'Client'
      ? new ClientAdapter(deps.subjects, deps.grantTypes)
      : new StateStoreAdapter(name, deps.state);
}

type Payload = Record<string, unknown>;

class ClientAdapter {
  readonly #subjects: SubjectResolver;
  readonly #grantTypes: readonly string[];
  constructor(subjects: SubjectResolver, grantTypes: readonly string[]) {
    this.#subjects = subjects;
    this.#grantTypes = grantTypes;
  }

  async find(clientId: string): Promise<Payload | undefined> {
    const subject = await this.#subjects.findByClientId(clientId);
    if (!subject) return undefined;
    const ctx = Provider.ctx;
    if (ctx) setRequestSubject(ctx, subject);
    return clientMetadataFor(subject, presentsBasicAuth(ctx?.get('authorization')), this.#grantTypes);
  }

  async upsert(): Promise<void> {
    throw new Error('clients are managed through the management API, not through oidc-provider');
  }
  async destroy(): Promise<void> {}
  async findByUid(): Promise<undefined> {
    return undefined;
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
  async consume(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
}

class StateStoreAdapter {
  readonly #name: string;
  readonly #state: StateStore;
  constructor(name: string, state: StateStore) {
    this.#name = name;
    this.#state = state;
  }

  #key(id: string): string {
    return `oidc:${this.#name}:${id}`;
  }

  async upsert(id: string, payload: Payload, expiresIn: number): Promise<void> {
    const ttl = Math.max(1, Math.ceil(expiresIn || 1));
    await this.#state.set(this.#key(id), JSON.stringify(payload), ttl);
  }

  async find(id: string): Promise<Payload | undefined> {
    const value = await this.#state.get(this.#key(id));
    return value ? (JSON.parse(value) as Payload) : undefined;
  }

  async findByUid(): Promise<undefined> {
    return undefined;
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
  async destroy(id: string): Promise<void> {
    await this.#state.delete(this.#key(id));
  }
  async consume(id: string): Promise<void> {
    await this.#state.delete(this.#key(id));
  }
  async revokeByGrantId(): Promise<void> {}
}
