/**
 * The permission catalog's fixed part and its defaults. Product permissions belong to the deployment:
 * they are rows of the database's permission_catalog (PERMISSIONS_FILE or the platform API, README
 * "Product permission catalog"); these are the ones a deployment starts with when it never sets them
 * (migration 0010 seeds the same list). Management permissions (org-wide, checked by the admin API)
 * are fixed here and never part of the product catalog.
 */
export const DEFAULT_PRODUCT_PERMISSIONS: ReadonlyArray<{ name: string; description: string }> = [
  { name: 'items:read', description: 'Read items' },
  { name: 'items:read_private', description: 'Read items marked private' },
  { name: 'items:write', description: 'Create, change and delete items' },
  { name: 'people:read', description: 'Read people' },
  { name: 'charts:read', description: 'Read charts' },
];

/**
 * The default catalog's names (tests, benchmarks, seeds). Not the running catalog: that is the
 * database's (PermissionCatalog in src/services), which a deployment changes at run time.
 */
export const PRODUCT_PERMISSIONS: readonly string[] = DEFAULT_PRODUCT_PERMISSIONS.map((p) => p.name);

export const MANAGEMENT_PERMISSIONS = [
  'service_accounts:read',
  'service_accounts:write',
  'service_accounts:delete',
  'roles:write',
  'settings:write',
  'audit:read',
] as const;

/** What each management permission lets a token do, for the console and GET /admin/v1/permissions. */
export const MANAGEMENT_PERMISSION_DESCRIPTIONS: Readonly<
  Record<(typeof MANAGEMENT_PERMISSIONS)[number], string>
> = {
  'service_accounts:read': 'View service accounts and credential metadata (View)',
  'service_accounts:write': 'Create and edit service accounts and their credentials (Edit)',
  'service_accounts:delete': 'Archive service accounts (Delete)',
  'roles:write': 'Manage roles and locations',
  'settings:write': 'Change the API security settings',
  'audit:read': 'Read the audit trail',
};

export type ManagementPermission = (typeof MANAGEMENT_PERMISSIONS)[number];

/** Name of the role every organization gets, holding every management permission. */
export const API_ADMIN_ROLE_NAME = 'API Admin';
/**
 * Name of the role every organization gets holding every product permission, so its first admin can
 * delegate them (an admin can only grant what it holds).
 */
export const FULL_ACCESS_ROLE_NAME = 'Full product access';
/** Name of the protected built-in account every organization gets. */
export const BUILT_IN_ACCOUNT_NAME = 'Built-in integration account';
