import { run } from '../../src/cli/main.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `svcauth <args>` in this process, with its own environment, stdout and stderr: what the binary does
 * minus starting Node (test/integration/cli/bootstrap.test.ts keeps a smoke test of the real binary).
 */
export async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    env,
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}
