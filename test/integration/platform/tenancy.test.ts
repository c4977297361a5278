import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateDeploymentSecret,
  OPERATOR_SECRET_PREFIX,
  resourceServerEntry,
} from '../../../src/domain/credential-format.ts';
import { bootstrapOrganization } from '../../../src/services/bootstrap-service.ts';
import { SecretHasher } from '../../../src/keys/secret-hasher.ts';
import type { OpenApiResponseValidator } from '../../helpers/openapi-responses.ts';
import { TEST_BCRYPT_COST } from '../../helpers/test-env.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { expectStatus } from '../admin/admin-helpers.ts';
import { basic, platformApi, servedDocument } from './platform-helpers.ts';

/**
 * The platform tier's tenancy controls over HTTP: organizations whose derived slug is taken.
 */
const OPERATOR = { name: 'ops', secret: generateDeploymentSecret(OPERATOR_SECRET_PREFIX) };

describe('platform tenancy', () => {
  let server: TestServer;
  let documented: OpenApiResponseValidator;
  const asOperator = () => platformApi(server, basic(OPERATOR.name, OPERATOR.secret), documented);

  beforeAll(async () => {
    server = await startTestServer({ OPERATORS: resourceServerEntry(OPERATOR.name, OPERATOR.secret) });
    documented = await servedDocument(server);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('creates an organization whose derived slug another organization already has', async () => {
    // An organization made by `svcauth bootstrap` may hold any slug, the one the platform would derive too.
    const externalId = 'tenant-with-a-taken-slug';
    const derived = `t-${createHash('sha256').update(externalId, 'utf8').digest('hex').slice(0, 24)}`;
    const bootstrapped = await bootstrapOrganization(server.database.db, new SecretHasher(TEST_BCRYPT_COST), {
      slug: derived,
    });
    const created = expectStatus(
      await asOperator()('POST', '/organizations', { external_id: externalId, name: 'Taken slug' }),
      201,
    );
    expect(created.id).not.toBe(bootstrapped.org_id);
    expect(created.slug).not.toBe(derived);
    expect(created.slug).toMatch(/^t-[0-9a-f]+$/);
    // Idempotent still: the same tenant id answers the same organization.
    const again = expectStatus(
      await asOperator()('POST', '/organizations', { external_id: externalId, name: 'Taken slug' }),
      200,
    );
    expect(again.id).toBe(created.id);
  });
});
