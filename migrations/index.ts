import type { Migration } from 'kysely/migration';
import * as initial from './0001_initial.ts';

/** Every migration, in order. Static imports keep the set identical on pg and PGlite and in bundles. */
export const migrations: Record<string, Migration> = {
  '0001_initial': initial,
};
