/**
 * The console's own words for the default permissions, for the roles screen when the deployment's
 * catalog (GET /admin/v1/permissions, which the roles screen reads) gives a permission no description.
 * A name described by neither is shown alone.
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
