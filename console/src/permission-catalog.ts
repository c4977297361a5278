/**
 * What each permission of svcauth's catalog (config/permissions.ts) lets a token do, for the roles
 * screen. A product's own permissions, synchronised into svcauth, bring their descriptions with them
 * where the API provides them; a name without one is shown alone.
 */
const DESCRIPTIONS: Record<string, string> = {
  'items:read': 'read items',
  'items:read_private': 'read private items',
  'items:write': 'create and change items',
  'people:read': 'read people',
  'charts:read': 'read charts',
  'service_accounts:read': 'view service accounts and credential metadata (View)',
  'service_accounts:write': 'create and edit service accounts and their credentials (Edit)',
  'service_accounts:delete': 'archive service accounts (Delete)',
  'roles:write': 'manage roles and locations',
  'settings:write': 'change the API security settings',
  'audit:read': 'read the audit trail',
};

export function permissionDescription(permission: string): string {
  return DESCRIPTIONS[permission] ?? '';
}
