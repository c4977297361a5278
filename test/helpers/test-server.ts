import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { type Config, loadConfig } from '../../src/config/index.ts';
import { generateSigningKeys } from '../../src/keys/signing-keys.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import { createTestDatabase } from './test-database.ts';
import { TEST_RUN_ENV } from './test-env.ts';

export interface TestServer extends RunningServer {
  config: Config;
  issuer: string;
  /** Every log line the server wrote, parsed. */
  logLines: string[];
  workDir: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts svcauth in this process on a free port, against the backends the environment names
 * (DATABASE_URL / REDIS_URL) or the embedded defaults, with data, keys and Redis keys of its own.
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-test-'));
  const database = await createTestDatabase(path.join(workDir, 'data'));
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: issuer,
    KEYS_DIR: path.join(workDir, 'keys'),
    DATA_DIR: path.join(workDir, 'data'),
    REDIS_KEY_PREFIX: `svcauth-test:${randomUUID()}:`,
    ...(database.config.kind === 'postgres' ? { DATABASE_URL: database.config.url } : {}),
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    LOG_LEVEL: 'info',
    ...TEST_RUN_ENV,
    ...env,
  });
  if (config.database.kind === 'postgres') await generateSigningKeys(config.keysDir, config.signingAlg);
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      callback();
    },
  });
  const server = await startServer(config, createLogger({ level: config.logLevel, destination }));
  return {
    ...server,
    config,
    issuer,
    logLines,
    workDir,
    stop: async () => {
      await server.close();
      fs.rmSync(workDir, { recursive: true, force: true });
    },
  };
}
