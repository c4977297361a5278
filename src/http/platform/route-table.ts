/**
 * Every platform API operation: organizations and recovery (routes.ts), the mirrored locations, the
 * tenancy controls (entitlement, settings, limits, defaults, groups admins), the built-in accounts, and
 * the clients allowed to act for the product's people (token exchange delegations), and the deployment's
 * own credentials and signing keys.
 * The router and the OpenAPI document both read this list.
 */
import { DELEGATION_ROUTES } from './delegation-routes.ts';
import { DEPLOYMENT_ROUTES } from './deployment-routes.ts';
import { PLATFORM_LOCATION_ROUTES } from './location-routes.ts';
import { PLATFORM_ROUTES, type PlatformRoute } from './routes.ts';
import { TENANCY_ROUTES } from './tenancy-routes.ts';
import { BUILT_IN_ROUTES } from './built-in-routes.ts';
import { CATALOG_ROUTES } from './catalog-routes.ts';

export const ALL_PLATFORM_ROUTES: readonly PlatformRoute[] = [
  ...PLATFORM_ROUTES,
  ...PLATFORM_LOCATION_ROUTES,
  ...TENANCY_ROUTES,
  ...BUILT_IN_ROUTES,
  ...DELEGATION_ROUTES,
  ...DEPLOYMENT_ROUTES,
  ...CATALOG_ROUTES,
];
