import type { Migration } from 'kysely/migration';
import * as initial from './0001_initial.ts';
import * as revocation from './0002_revocation.ts';
import * as revocationOutbox from './0003_revocation_outbox.ts';
import * as legacyKeyLookup from './0004_legacy_key_lookup.ts';
import * as platform from './0008_platform.ts';
import * as revocationOutboxChange from './0009_revocation_outbox_change.ts';
import * as productIdsAndCatalog from './0010_product_ids_and_catalog.ts';
import * as tenancy from './0011_tenancy.ts';
import * as accountListsAndSecretVersions from './0012_account_lists_and_secret_versions.ts';
import * as tokenExchange from './0013_token_exchange.ts';
import * as deploymentCredentials from './0015_deployment_credentials.ts';

/** Every migration, in order. Static imports keep the set identical on pg and PGlite and in bundles. */
export const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_revocation': revocation,
  '0003_revocation_outbox': revocationOutbox,
  '0004_legacy_key_lookup': legacyKeyLookup,
  '0008_platform': platform,
  '0009_revocation_outbox_change': revocationOutboxChange,
  '0010_product_ids_and_catalog': productIdsAndCatalog,
  '0011_tenancy': tenancy,
  '0012_account_lists_and_secret_versions': accountListsAndSecretVersions,
  '0013_token_exchange': tokenExchange,
  '0015_deployment_credentials': deploymentCredentials,
};
