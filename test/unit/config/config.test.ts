import os from 'node:os';
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
      redisSentinels: undefined,
      redisClusterNodes: undefined,
      keysDir: path.resolve('./keys'),
      signingAlg: 'ES256',
      bcryptCost: 10,
      bcryptHashingNice: 10,
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
    ['REDIS_CLUSTER_NODES', 'redis-0'],
    ['REDIS_CLUSTER_NODES', 'redis-0:6379,redis-1:70000'],
    ['REDIS_CLUSTER_NODES', 'redis-0:6379,,redis-1:6379'],
    ['RESOURCE_SERVERS', 'items-api'],
    ['RESOURCE_SERVERS', 'items-api:not-hex'],
    ['RESOURCE_SERVERS', `bad name:${'a'.repeat(64)}`],
    ['RESOURCE_SERVERS', `a:${'a'.repeat(64)},a:${'b'.repeat(64)}`],
    ['LOCKOUT_MAX_FAILURES', '0'],
    ['LOCKOUT_MAX_FAILURES_PER_IP', 'many'],
    ['LOCKOUT_WINDOW_SECONDS', '-5'],
    ['LOCKOUT_SECONDS', '1.5'],
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

  it('reads the nice steps of the hashing threads, from 0 (same priority) to 19', () => {
    expect(loadConfig({ BCRYPT_HASHING_NICE: '0' }).bcryptHashingNice).toBe(0);
    expect(loadConfig({ BCRYPT_HASHING_NICE: '19' }).bcryptHashingNice).toBe(19);
    for (const nice of ['-1', '20', 'low']) {
      expect(() => loadConfig({ BCRYPT_HASHING_NICE: nice })).toThrow(
        new RegExp(`^BCRYPT_HASHING_NICE must be an integer from 0 to 19 \\(got "${nice}"\\)$`),
      );
    }
  });

  it('accepts a bcrypt cost below 10 only in a test run, and never below 4', () => {
    expect(loadConfig({ BCRYPT_COST: '4', NODE_ENV: 'test' }).bcryptCost).toBe(4);
    expect(loadConfig({ BCRYPT_COST: '5', VITEST: 'true' }).bcryptCost).toBe(5);
    expect(loadConfig({ BCRYPT_COST: '12', NODE_ENV: 'test' }).bcryptCost).toBe(12);
    expect(loadConfig({ NODE_ENV: 'test' }).bcryptCost).toBe(10);
    for (const env of [{}, { NODE_ENV: 'production' }, { NODE_ENV: 'development' }]) {
      expect(() => loadConfig({ ...env, BCRYPT_COST: '4' })).toThrow(
        /^BCRYPT_COST must be an integer from 10 to 15 \(got "4"\); costs below 10 are for test runs only/,
      );
    }
    for (const cost of ['3', '16', 'four', '4.5']) {
      expect(() => loadConfig({ NODE_ENV: 'test', BCRYPT_COST: cost })).toThrow(
        /^BCRYPT_COST must be an integer from 4 to 15/,
      );
    }
  });

  it('reads resource servers and lockout limits, with documented defaults', () => {
    const digest = 'ab'.repeat(32);
    const config = loadConfig({
      RESOURCE_SERVERS: ` items-api:${digest} , people.api:${'CD'.repeat(32)}`,
      LOCKOUT_MAX_FAILURES: '5',
    });
    expect(config.resourceServers).toEqual([
      { name: 'items-api', secretSha256: Buffer.from(digest, 'hex') },
      { name: 'people.api', secretSha256: Buffer.from('cd'.repeat(32), 'hex') },
    ]);
    expect(config.lockout).toEqual({
      maxFailuresPerClient: 5,
      maxFailuresPerIp: 50,
      windowSeconds: 300,
      lockSeconds: 900,
    });
    expect(loadConfig({}).resourceServers).toEqual([]);
  });

  it('says how to make a RESOURCE_SERVERS entry, naming the bad one', () => {
    expect(() => loadConfig({ RESOURCE_SERVERS: `ok:${'a'.repeat(64)},items-api:123` })).toThrow(
      /RESOURCE_SERVERS .*entry 2 \("items-api"\) needs the SHA-256 of the secret.*svcauth resource-server-credential/,
    );
  });

  it('reads OPERATORS like RESOURCE_SERVERS, several at once, and says how to make an entry', () => {
    const config = loadConfig({ OPERATORS: `ops-old:${'ab'.repeat(32)}, ops-new:${'cd'.repeat(32)}` });
    expect(config.operators.map((o) => o.name)).toEqual(['ops-old', 'ops-new']);
    expect(loadConfig({}).operators).toEqual([]);
    expect(() => loadConfig({ OPERATORS: `ops:${'a'.repeat(63)}` })).toThrow(
      /OPERATORS .*entry 1 \("ops"\) needs the SHA-256 of the secret.*svcauth operator-credential/,
    );
    expect(() => loadConfig({ OPERATORS: `a:${'a'.repeat(64)},a:${'b'.repeat(64)}` })).toThrow(
      /repeats a name/,
    );
  });

  it('reads WORKERS (a count or auto) and refuses what several workers cannot share', () => {
    const shared = { DATABASE_URL: 'postgres://db/svcauth', REDIS_URL: 'redis://cache:6379' };
    expect(loadConfig({}).workers).toBe(1);
    expect(loadConfig({ ...shared, WORKERS: '4' }).workers).toBe(4);
    expect(loadConfig({ ...shared, WORKERS: 'auto' }).workers).toBe(os.availableParallelism());
    for (const bad of ['0', '65', 'two', '1.5']) {
      expect(() => loadConfig({ ...shared, WORKERS: bad })).toThrow(/^WORKERS must be a whole number/);
    }
    expect(() => loadConfig({ WORKERS: '2' })).toThrow(/^WORKERS .*needs DATABASE_URL and REDIS_URL/);
    expect(() => loadConfig({ WORKERS: '2', DATABASE_URL: 'postgres://db/svcauth' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...shared, WORKERS: '2', PORT: '0' })).toThrow(/^WORKERS .*fixed PORT/);
    // One worker on the embedded default is simply the ordinary single process.
    expect(loadConfig({ WORKERS: '1' }).workers).toBe(1);
  });

  it('reads Redis Cluster seed nodes', () => {
    const config = loadConfig({
      REDIS_URL: 'rediss://svcauth:secret@cluster:6379',
      REDIS_CLUSTER_NODES: ' redis-0.redis:6379 , 10.0.0.7:7001',
    });
    expect(config.redisUrl).toBe('rediss://svcauth:secret@cluster:6379');
    expect(config.redisClusterNodes).toEqual([
      { host: 'redis-0.redis', port: 6379 },
      { host: '10.0.0.7', port: 7001 },
    ]);
    expect(config.redisSentinels).toBeUndefined();
    expect(
      loadConfig({ REDIS_URL: 'redis://:pw@c:6379/0', REDIS_CLUSTER_NODES: 'c:6379' }).redisClusterNodes,
    ).toHaveLength(1);
  });

  it.each([
    [
      'combined with Redis Sentinel',
      { REDIS_URL: 'redis://c:6379', REDIS_SENTINELS: 's:26379', REDIS_CLUSTER_NODES: 'c:6379' },
      'REDIS_CLUSTER_NODES',
      /cannot be combined with REDIS_SENTINELS/,
    ],
    [
      'without REDIS_URL',
      { REDIS_CLUSTER_NODES: 'c:6379' },
      'REDIS_CLUSTER_NODES',
      /needs REDIS_URL as well/,
    ],
    [
      '(Sentinel, rather) without REDIS_URL',
      { REDIS_SENTINELS: 's:26379' },
      'REDIS_SENTINELS',
      /needs REDIS_URL as well/,
    ],
    [
      'with a database other than 0',
      { REDIS_URL: 'redis://:hunter2@c:6379/2', REDIS_CLUSTER_NODES: 'c:6379' },
      'REDIS_URL',
      /must not select a database with REDIS_CLUSTER_NODES/,
    ],
  ])('refuses Redis Cluster nodes %s, naming the variable', (_, env, variable, message) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as ConfigError).message).toMatch(message);
    expect((error as ConfigError).message).not.toContain('hunter2');
  });

  it('never echoes a connection URL, which may hold a password', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://user:hunter2@db/x' })).toThrow(/DATABASE_URL/);
    try {
      loadConfig({ DATABASE_URL: 'mysql://user:hunter2@db/x' });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });

  describe('token exchange (SUBJECT_TOKEN_*)', () => {
    it('is off without SUBJECT_TOKEN_ISSUER', () => {
      expect(loadConfig({}).tokenExchange).toBeUndefined();
    });

    it('reads the product trust, with ISSUER as the default audience', () => {
      const config = loadConfig({
        ISSUER: 'https://auth.example.com',
        SUBJECT_TOKEN_ISSUER: 'https://app.example.com',
        SUBJECT_TOKEN_JWKS_URL: 'https://app.example.com/.well-known/jwks.json',
      });
      expect(config.tokenExchange).toEqual({
        subjectTokenIssuer: 'https://app.example.com',
        subjectTokenAudience: 'https://auth.example.com',
        jwks: { kind: 'url', url: 'https://app.example.com/.well-known/jwks.json' },
        maxSubjectTokenLifetimeSeconds: 300,
        delegatedTokenTtlSeconds: 300,
      });
      expect(
        loadConfig({ SUBJECT_TOKEN_ISSUER: 'app', SUBJECT_TOKEN_JWKS_FILE: 'product-jwks.json' })
          .tokenExchange?.jwks,
      ).toEqual({ kind: 'file', path: path.resolve('product-jwks.json') });
    });

    it.each([
      [
        'keys without an issuer',
        { SUBJECT_TOKEN_JWKS_URL: 'https://app.example.com/jwks' },
        'SUBJECT_TOKEN_JWKS_URL',
      ],
      ['an issuer without keys', { SUBJECT_TOKEN_ISSUER: 'app' }, 'SUBJECT_TOKEN_JWKS_URL'],
      [
        'two sources of keys',
        {
          SUBJECT_TOKEN_ISSUER: 'app',
          SUBJECT_TOKEN_JWKS_URL: 'https://a/jwks',
          SUBJECT_TOKEN_JWKS_FILE: 'k.json',
        },
        'SUBJECT_TOKEN_JWKS_FILE',
      ],
      [
        'a delegated token TTL out of range',
        { SUBJECT_TOKEN_ISSUER: 'app', SUBJECT_TOKEN_JWKS_FILE: 'k.json', DELEGATED_TOKEN_TTL_SECONDS: '5' },
        'DELEGATED_TOKEN_TTL_SECONDS',
      ],
    ])('refuses %s, naming the variable', (_, env, variable) => {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      try {
        loadConfig(env);
      } catch (error) {
        expect((error as ConfigError).variable).toBe(variable);
      }
    });
  });
});
