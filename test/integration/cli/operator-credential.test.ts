import { describe, expect, it } from 'vitest';
import {
  isDeploymentSecretWellFormed,
  OPERATOR_SECRET_PREFIX,
} from '../../../src/domain/credential-format.ts';
import { loadConfig } from '../../../src/config/index.ts';
import { OperatorAuthenticator } from '../../../src/oauth/resource-server-auth.ts';
import { runCli } from '../../helpers/cli.ts';

describe('svcauth operator-credential', () => {
  it('prints a checksummed svcop_ secret once with the OPERATORS entry that accepts it', async () => {
    const result = await runCli(['operator-credential', '--name', 'ops-1', '--json'], {});
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as { name: string; secret: string; operators_entry: string };
    expect(printed.name).toBe('ops-1');
    expect(isDeploymentSecretWellFormed(OPERATOR_SECRET_PREFIX, printed.secret)).toBe(true);
    expect(printed.operators_entry).toMatch(/^ops-1:[0-9a-f]{64}$/);
    expect(printed.operators_entry).not.toContain(printed.secret);

    const operators = new OperatorAuthenticator(loadConfig({ OPERATORS: printed.operators_entry }).operators);
    expect(await operators.authenticate(`Bearer ${printed.secret}`)).toBe('ops-1');
    const basic = `Basic ${Buffer.from(`ops-1:${printed.secret}`).toString('base64')}`;
    expect(await operators.authenticate(basic)).toBe('ops-1');
    expect(await operators.authenticate(`Bearer ${printed.secret}x`)).toBeNull();
  });

  it('prints the entry for humans and refuses a bad name', async () => {
    const human = await runCli(['operator-credential', '--name', 'ops-2'], {});
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/operator: {8}ops-2\nsecret: {10}svcop_/);
    expect(human.stdout).toMatch(/Add this entry to OPERATORS/);
    const bad = await runCli(['operator-credential', '--name', 'no spaces'], {});
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/--name must be/);
  });
});
