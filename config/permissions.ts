/**
 * The permission catalog. Roles may hold only names listed here; tokens carry them per location.
 * Product permissions come first; management permissions (org-wide, checked by the admin API) after.
 */
export const PRODUCT_PERMISSIONS = [
  'items:read',
  'items:read_private',
  'items:write',
  'people:read',
  'charts:read',
] as const;

export const MANAGEMENT_PERMISSIONS = [
  'service_accounts:read',
  'service_accounts:write',
  'service_accounts:delete',
  'roles:write',
  'settings:write',
  'audit:read',
] as const;

export const PERMISSION_CATALOG: readonly string[] = [...PRODUCT_PERMISSIONS, ...MANAGEMENT_PERMISSIONS];

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
