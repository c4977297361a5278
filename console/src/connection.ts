/**
 * What every screen needs: the session (token), the API client, and what the signed-in admin may do.
 * A screen gets it from the console shell, or makes its own from a host page's token function.
 */
import { type Api, createApi } from './api/client.js';
import { Session, type TokenFunction } from './session.js';

export type ManagementPermission =
  | 'service_accounts:read'
  | 'service_accounts:write'
  | 'service_accounts:delete'
  | 'roles:write'
  | 'settings:write'
  | 'audit:read';

/** The seeds' access levels over service accounts, from the management permissions held. */
export type AccessLevel = 'None' | 'View' | 'Edit' | 'Delete';

export class Connection {
  readonly session: Session;
  readonly api: Api;
  readonly apiBase: string;

  constructor(apiBase: string, tokenFunction: TokenFunction) {
    this.apiBase = apiBase.replace(/\/+$/, '');
    this.session = new Session(tokenFunction);
    this.api = createApi(this.apiBase, this.session);
  }

  /** Fetches the first token: a token function that fails makes the sign-in fail. */
  async open(): Promise<this> {
    await this.session.refresh();
    return this;
  }

  close(): void {
    this.session.close();
  }

  /** The signed-in admin's own account id (the token's subject). */
  get accountId(): string {
    return this.session.claims?.sub ?? '';
  }

  get groupsAdmin(): boolean {
    return this.session.claims?.groups_admin === true;
  }

  /** Every permission the admin holds anywhere (management permissions are organization-wide). */
  get held(): ReadonlySet<string> {
    return new Set(Object.values(this.session.claims?.permissions ?? {}).flat());
  }

  has(permission: ManagementPermission): boolean {
    return (this.session.claims?.permissions['*'] ?? []).includes(permission);
  }

  get accessLevel(): AccessLevel {
    if (this.has('service_accounts:delete')) return 'Delete';
    if (this.has('service_accounts:write')) return 'Edit';
    if (this.has('service_accounts:read')) return 'View';
    return 'None';
  }

  /** Whether a control that needs `permission` is usable, and if not, the reason to show on hover. */
  allows(permission: ManagementPermission): { allowed: boolean; reason: string } {
    if (this.has(permission)) return { allowed: true, reason: '' };
    const level = this.accessLevel;
    return {
      allowed: false,
      reason: `Needs the ${permission} permission; your access to service accounts is ${level}`,
    };
  }
}
