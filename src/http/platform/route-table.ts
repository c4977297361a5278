/**
 * Every platform API operation: organizations and recovery (routes.ts), then the mirrored locations.
 * The router and the OpenAPI document both read this list.
 */
import { PLATFORM_LOCATION_ROUTES } from './location-routes.ts';
import { PLATFORM_ROUTES, type PlatformRoute } from './routes.ts';

export const ALL_PLATFORM_ROUTES: readonly PlatformRoute[] = [
  ...PLATFORM_ROUTES,
  ...PLATFORM_LOCATION_ROUTES,
];
