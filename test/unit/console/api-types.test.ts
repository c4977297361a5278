import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_TYPES_FILE, generateApiTypes } from '../../../console/generate-api.ts';

describe("the console's API types", () => {
  it('are generated from the OpenAPI document the server serves now', async () => {
    const committed = fs.readFileSync(API_TYPES_FILE, 'utf8');
    const current = await generateApiTypes();
    // A change of the management API reaches the console through these types (and `tsc` then checks
    // every call the console makes): regenerate them with `npm run console:api`.
    expect(committed === current, 'console/src/api/schema.d.ts is stale: run `npm run console:api`').toBe(
      true,
    );
  });
});
