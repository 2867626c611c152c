/**
 * No raw `[ioredis] Unhandled error event` stack on stderr when Redis goes away: every ioredis
 * client celeriac opens has an error listener. Runs its own redis-server (port 16510), killed here.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { describe, it, mock } from 'node:test';
import { createRenewer } from '../../src/broker/lease/redis-renewer.js';
import { RedisTransport } from '../../src/broker/redis/transport.js';
import { servicesRequired } from '../helpers/services.js';

const PORT = 16510;
const hasServer = spawnSync('sh', ['-c', 'command -v redis-server']).status === 0;
const skip = hasServer || servicesRequired ? false : 'redis-server not installed (see shared/SERVICES.md); set CELERIAC_REQUIRE_SERVICES=1 to fail instead';

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function startRedis(): ChildProcess {
  return spawn('redis-server', ['--port', String(PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
}

describe('ioredis errors during an outage', { skip }, () => {
  it('the lease renewer and the broker client print no unhandled-error stacks', { timeout: 30_000 }, async () => {
    let server = startRedis();
    const printed: string[] = [];
    const spy = mock.method(console, 'error', (...args: unknown[]) => void printed.push(args.map(String).join(' ')));
    const url = `redis://127.0.0.1:${PORT}/0`;
    let resets = 0;
    const sockets = new Set<Socket>();
    const refuser = createServer((s) => {
      resets++;
      sockets.add(s);
      s.destroy();
    });
    try {
      const transport = new RedisTransport({ url, transportOptions: { connectTimeout: 5 } });
      await until(async () => transport.connect().then(() => true, () => false), 'redis-server to start');
      const renewer = await createRenewer({ url });
      await renewer.renew(['x']);
      server.kill('SIGKILL');
      await new Promise((r) => server.once('exit', r));
      // Something that accepts and drops every connection: each reconnect attempt is an error event.
      await new Promise<void>((r) => refuser.listen(PORT, '127.0.0.1', () => r()));
      await until(() => resets >= 6, 'several failed reconnects of every client');
      assert.deepEqual(printed.filter((l) => l.includes('[ioredis]')), []);
      // Redis back: everything closes cleanly.
      for (const s of sockets) s.destroy();
      await new Promise((r) => refuser.close(r));
      server = startRedis();
      await until(async () => renewer.renew(['x']).then(() => true, () => false), 'the renewer to reconnect');
      await renewer.close();
      await transport.close();
      assert.deepEqual(printed.filter((l) => l.includes('[ioredis]')), []);
    } finally {
      spy.mock.restore();
      for (const s of sockets) s.destroy();
      refuser.close();
      server.kill('SIGKILL');
    }
  });
});
