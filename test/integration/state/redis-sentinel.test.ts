import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.ts';
import { createStateStore } from '../../../src/state/index.ts';
import type { StateStore } from '../../../src/state/state-store.ts';
import { type PrivateService, startPrivateRedis } from '../../helpers/private-services.ts';
import { freePort } from '../../helpers/test-server.ts';

let master: PrivateService;
let sentinel: ChildProcess;
let sentinelPort: number;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-sentinel-'));

beforeAll(async () => {
  master = await startPrivateRedis();
  sentinelPort = await freePort();
  const masterPort = new URL(master.url).port;
  const conf = path.join(dir, 'sentinel.conf');
  fs.writeFileSync(
    conf,
    `port ${sentinelPort}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${masterPort} 1\n`,
  );
  sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync('redis-cli', ['-p', String(sentinelPort), 'ping'], { stdio: 'pipe' });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('sentinel did not start');
});

afterAll(async () => {
  sentinel?.kill('SIGKILL');
  await master?.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('REDIS_SENTINELS: the state store finds the master through Redis Sentinel', async () => {
  const config = loadConfig({
    // The host of REDIS_URL is ignored with sentinels: it only gives password and database.
    REDIS_URL: 'redis://ignored.invalid:6379/0',
    REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`,
    REDIS_SENTINEL_NAME: 'mymaster',
  });
  expect(config.redisSentinels).toEqual({
    sentinels: [{ host: '127.0.0.1', port: sentinelPort }],
    name: 'mymaster',
  });
  const prefix = `svcauth-test:${randomUUID()}:`;
  const stores: StateStore[] = [0, 1].map(() =>
    createStateStore({ redisUrl: config.redisUrl, prefix, redisOptions: config.redisSentinels }),
  );
  try {
    await stores[0]!.set('k', 'v', 60);
    expect(await stores[1]!.get('k')).toBe('v');
    const received: string[] = [];
    await stores[1]!.subscribe('channel', (m) => received.push(m));
    await stores[0]!.publish('channel', 'hello');
    for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(received).toEqual(['hello']);
  } finally {
    for (const store of stores) await store.close();
  }
}, 30_000);
