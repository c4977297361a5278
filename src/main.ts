import { ConfigError, loadConfig } from './config/index.ts';
import { KeyFileError } from './keys/signing-keys.ts';
import { createLogger } from './logging/logger.ts';
import { DataDirectoryInUseError } from './persistence/database.ts';
import { startServer } from './server.ts';

/** `npm start`: validate configuration, start, and stop gracefully on SIGTERM / SIGINT. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`svcauth: configuration error: ${error.message}`);
      process.exit(78);
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel });
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, logger);
  } catch (error) {
    if (error instanceof DataDirectoryInUseError || error instanceof KeyFileError) {
      console.error(`svcauth: cannot start: ${error.message}`);
      process.exit(1);
    }
    const message = error instanceof Error ? error.message : String(error);
    console.error(`svcauth: cannot start: ${message}`);
    process.exit(1);
  }
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error) => {
        logger.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

await main();
