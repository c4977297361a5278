import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/index.ts';

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      issuer: 'http://localhost:3000',
      defaultAudience: 'http://localhost:3000/api',
      adminAudience: 'http://localhost:3000/admin',
      database: { kind: 'pglite', dataDir: path.resolve('./data') },
      redisUrl: undefined,
      keysDir: path.resolve('./keys'),
      signingAlg: 'ES256',
      bcryptCost: 10,
      migrateOnStart: true,
    });
  });

  it('reads Postgres, Redis and overrides', () => {
    const config = loadConfig({
      PORT: '8080',
      ISSUER: 'https://auth.example.com/',
      DATABASE_URL: 'postgres://svc:pw@db:5432/svcauth',
      REDIS_URL: 'redis://cache:6379',
      MIGRATE_ON_START: 'false',
      SIGNING_ALG: 'EdDSA',
      DEFAULT_AUDIENCE: 'https://api.example.com',
    });
    expect(config.port).toBe(8080);
    expect(config.issuer).toBe('https://auth.example.com');
    expect(config.database).toEqual({
      kind: 'postgres',
      url: 'postgres://svc:pw@db:5432/svcauth',
      poolMax: 10,
    });
    expect(config.redisUrl).toBe('redis://cache:6379');
    expect(config.migrateOnStart).toBe(false);
    expect(config.signingAlg).toBe('EdDSA');
    expect(config.defaultAudience).toBe('https://api.example.com');
  });

  it.each([
    ['PORT', '-1'],
    ['PORT', '70000'],
    ['PORT', 'abc'],
    ['DATABASE_URL', 'nonsense'],
    ['DATABASE_URL', 'mysql://root@db/x'],
    ['REDIS_URL', 'http://cache'],
    ['ISSUER', 'not a url'],
    ['ISSUER', 'https://auth.example.com/?x=1'],
    ['SIGNING_ALG', 'HS256'],
    ['BCRYPT_COST', '4'],
    ['LOG_LEVEL', 'loud'],
    ['MIGRATE_ON_START', 'maybe'],
    ['REDIS_KEY_PREFIX', 'has space'],
  ])('%s=%s is refused with a one-line message naming the variable', (variable, value) => {
    let error: unknown;
    try {
      loadConfig({ [variable]: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect((error as ConfigError).variable).toBe(variable);
    expect(message.startsWith(`${variable} `)).toBe(true);
    expect(message).not.toContain('\n');
  });

  it('never echoes a connection URL, which may hold a password', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://user:hunter2@db/x' })).toThrow(/DATABASE_URL/);
    try {
      loadConfig({ DATABASE_URL: 'mysql://user:hunter2@db/x' });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});
