/**
 * What one operation of the platform API is: its documentation (for the OpenAPI document) and its
 * handler, over the platform's use cases. The route tables (routes.ts and its companions) list them.
 */
import type { z } from 'zod';
import type { PlatformBuiltInAccountService } from '../../services/platform-built-in-service.ts';
import type { DelegationService } from '../../services/delegation-service.ts';
import type { DeploymentCredentialService } from '../../services/deployment-credential-service.ts';
import type { SigningKeyService } from '../../services/signing-key-service.ts';
import type { PermissionCatalogService } from '../../services/permission-catalog.ts';
import type { PlatformLocationService } from '../../services/platform-location-service.ts';
import type { PlatformOperator, PlatformService } from '../../services/platform-service.ts';
import type { PlatformTenancyService } from '../../services/platform-tenancy-service.ts';
import type { DocumentedRoute } from '../admin/routes.ts';

export interface PlatformServices {
  platform: PlatformService;
  locations: PlatformLocationService;
  tenancy: PlatformTenancyService;
  builtIn: PlatformBuiltInAccountService;
  delegations: DelegationService;
  /** Resource servers' and operators' credentials, and the signing keys (deployment-routes.ts). */
  deployment: { credentials: DeploymentCredentialService; signingKeys: SigningKeyService };
  catalog: PermissionCatalogService;
}

export interface PlatformRoute<
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
  R extends z.ZodType = z.ZodType,
> extends DocumentedRoute<Q, B, R> {
  handle(
    request: {
      operator: PlatformOperator;
      params: Readonly<Record<string, string>>;
      query: z.output<Q>;
      body: z.output<B>;
    },
    services: PlatformServices,
  ): Promise<{ status?: 200 | 201 | 204; body: z.input<R> }>;
}

export function route<Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType>(
  definition: PlatformRoute<Q, B, R>,
): PlatformRoute {
  return definition;
}
